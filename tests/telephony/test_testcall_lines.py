"""The test call with several lines (issue 15): per number, which receptionist and which room a
call reaches, checked against the line the number is assigned to; both modes, real emulator."""

from __future__ import annotations

import pytest

from telephony import receptionists, services
from telephony.models import Receptionist
from telephony.provisioning.reconcile import reconcile_clinic
from tests.telephony.test_calls_api import CALLER, as_user, test_url

pytestmark = pytest.mark.django_db
A, B, C = "+14155550151", "+14155550152", "+14155550153"


@pytest.fixture
def two_lines(clinic, owner, lk):
    for n in (A, B, C):
        services.phone_number_add(clinic=clinic, number=n)
    spanish = receptionists.receptionist_create(clinic=clinic, name="Spanish line")
    receptionists.phone_number_assign(clinic=clinic, e164=B, receptionist=spanish)
    services.clinic_go_live(clinic=clinic, actor=owner)
    assert reconcile_clinic(clinic.pk).outcome == "converged"
    return clinic, Receptionist.objects.first_of(clinic), spanish


@pytest.mark.parametrize("simulate", [True, False], ids=["emulator", "dry-run"])
def test_each_number_shows_the_receptionist_and_the_room_of_its_line(
    two_lines, owner, settings, simulate
):
    clinic, main, spanish = two_lines
    settings.LIVEKIT_IS_EMULATOR = simulate
    r = as_user(owner).post(test_url(clinic), {"from": CALLER}, format="json")
    assert r.status_code == 200, r.content
    report = r.json()
    assert report["passed"], report
    got = {
        x["number"]: (x["receptionist"], x["receptionist_name"], x["line_room_prefix"])
        for x in report["results"]
    }
    assert got == {
        A: (main.pk, "Main line", f"{clinic.room_prefix}_main"),
        B: (spanish.pk, "Spanish line", f"{clinic.room_prefix}_spanish-line"),
        C: (main.pk, "Main line", f"{clinic.room_prefix}_main"),
    }
    for x in report["results"]:
        assert x["room_name_pattern"].startswith(f"{x['line_room_prefix']}_{CALLER}_")


def test_a_move_not_provisioned_yet_is_reported_for_that_number_only(two_lines, owner, settings):
    clinic, main, spanish = two_lines
    settings.LIVEKIT_IS_EMULATOR = True
    receptionists.phone_number_assign(clinic=clinic, e164=C, receptionist=spanish)  # no run yet
    report = as_user(owner).post(test_url(clinic), {"from": CALLER}, format="json").json()
    by_number = {x["number"]: x for x in report["results"]}
    assert not report["passed"]
    assert by_number[A]["passed"] and by_number[B]["passed"]
    stale = by_number[C]
    assert not stale["passed"] and stale["receptionist"] == main.pk
    assert stale["assigned_receptionist"] == spanish.pk
    assert any("not the rule of the line" in p for p in stale["problems"])


def test_the_page_says_which_line_answers_each_number(two_lines, owner, client, settings):
    clinic, _, _ = two_lines
    settings.LIVEKIT_IS_EMULATOR = True
    client.force_login(owner)
    page = client.post(f"/clinics/{clinic.slug}/test-call/", {"from": CALLER})
    text = page.content.decode()
    assert page.status_code == 200
    assert "now reaches your receptionist, Spanish line (English (US))" in text
    assert "now reaches your receptionist, Main line (English (US))" in text


@pytest.mark.parametrize("simulate", [True, False], ids=["emulator", "dry-run"])
def test_each_number_shows_who_answers_now_and_after_hours_with_a_route_and_its_room(
    two_lines, owner, settings, simulate, monkeypatch
):
    """Main line hands its calls to the Spanish line after hours; the Spanish line takes a
    message. At 18:00 on a weekday (closed) and 10:00 (open), in the clinic's zone."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from frontdesk import config as call_time_config
    from frontdesk.services import after_hours_update, hours_replace

    clinic, main, spanish = two_lines
    settings.LIVEKIT_IS_EMULATOR = simulate
    week = [{"day": d, "opens": "09:00", "closes": "17:00"} for d in range(5)]
    hours_replace(clinic=clinic, timezone="America/New_York", weekly=week, closures=[])
    after_hours_update(receptionist=main, action="route", route_to=spanish.pk, route_to_given=True)
    ny = ZoneInfo("America/New_York")
    now = {"at": datetime(2026, 12, 2, 18, 0, tzinfo=ny)}
    monkeypatch.setattr(call_time_config, "current_time", lambda: now["at"])

    def results():
        r = as_user(owner).post(test_url(clinic), {"from": CALLER}, format="json")
        assert r.status_code == 200 and r.json()["passed"], r.content
        return {x["number"]: x for x in r.json()["results"]}

    closed = results()
    for number in (A, C):  # the main line's numbers: the Spanish line answers, in main's room
        x = closed[number]
        assert (x["open_now"], x["answers_now"], x["answers_now_name"]) == (
            False,
            spanish.pk,
            "Spanish line",
        )
        assert (x["after_hours_action"], x["after_hours_receptionist"]) == ("route", spanish.pk)
        assert x["after_hours_room"] == x["room_name_pattern"]
        assert x["after_hours_room"].startswith(f"{clinic.room_prefix}_main_{CALLER}_")
    x = closed[B]
    assert (x["answers_now"], x["after_hours_action"], x["after_hours_receptionist"]) == (
        spanish.pk,
        "message",
        spanish.pk,
    )
    assert x["after_hours_room"].startswith(f"{clinic.room_prefix}_spanish-line_")

    now["at"] = datetime(2026, 12, 2, 10, 0, tzinfo=ny)
    opened = results()
    assert opened[A]["open_now"] is True and opened[A]["answers_now"] == main.pk
    assert opened[A]["after_hours_receptionist"] == spanish.pk


def test_the_page_says_who_answers_after_hours(two_lines, owner, client, settings):
    from frontdesk.services import after_hours_update, hours_replace

    clinic, main, spanish = two_lines
    settings.LIVEKIT_IS_EMULATOR = True
    hours_replace(clinic=clinic, timezone="UTC", weekly=[], closures=[])  # always open
    after_hours_update(receptionist=main, action="route", route_to=spanish.pk, route_to_given=True)
    after_hours_update(receptionist=spanish, action="emergency")
    client.force_login(owner)
    text = client.post(f"/clinics/{clinic.slug}/test-call/", {"from": CALLER}).content.decode()
    assert "Open now: Main line answers. After hours: Spanish line answers instead." in text
    assert (
        "Open now: Spanish line answers. After hours: Spanish line gives your emergency "
        "number, then offers to take a message." in text
    )
