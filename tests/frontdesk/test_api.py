"""The hours, clinic-info and after-hours APIs; the agent config API's call-time part."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEntry
from frontdesk import config as call_time_config
from frontdesk.models import FrontDesk
from telephony.agent_tokens import agent_token_create
from telephony.models import Receptionist
from telephony.receptionists import receptionist_create, receptionist_delete
from tenants.models import Clinic
from tests.api_helpers import clinic_url

pytestmark = pytest.mark.django_db
NY = ZoneInfo("America/New_York")
WEEK = {
    "timezone": "America/New_York",
    "weekly": [{"day": d, "opens": "09:00", "closes": "17:00"} for d in range(5)],
    "closures": [{"date": "2026-12-25", "reason": "Christmas Day"}],
}


def test_put_then_get_the_hours_in_the_issue_shape(owner_api, clinic):
    r = owner_api.put(clinic_url(clinic, "hours/"), WEEK, format="json")
    assert r.status_code == 200, r.content
    assert r.json() == WEEK
    assert owner_api.get(clinic_url(clinic, "hours/")).json() == WEEK
    clinic.refresh_from_db()
    assert clinic.timezone == "America/New_York"


def test_an_alias_time_zone_is_stored_as_the_canonical_zone(owner_api, clinic):
    r = owner_api.put(
        clinic_url(clinic, "hours/"), {**WEEK, "timezone": "US/Eastern"}, format="json"
    )
    assert r.json()["timezone"] == "America/New_York"


def test_the_hours_change_is_in_the_audit_log(owner_api, clinic):
    owner_api.put(clinic_url(clinic, "hours/"), WEEK, format="json")
    entry = AuditEntry.objects.filter(clinic_id=clinic.pk, event="hours.update").get()
    assert "weekly" in entry.changes and "closures" in entry.changes


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"weekly": [{"day": 0, "opens": "17:00", "closes": "09:00"}]}, "weekly[0].closes"),
        (
            {
                "weekly": [
                    {"day": 0, "opens": "09:00", "closes": "13:00"},
                    {"day": 0, "opens": "12:30", "closes": "17:00"},
                ]
            },
            "weekly",
        ),
        ({"closures": [{"date": "2026-13-01"}]}, "closures[0].date"),
        ({"opening": []}, "opening"),
    ],
)
def test_bad_hours_are_400_naming_the_field_and_change_nothing(owner_api, clinic, change, field):
    owner_api.put(clinic_url(clinic, "hours/"), WEEK, format="json")
    clinic.refresh_from_db()
    before = (list(FrontDesk.objects.filter(clinic=clinic).values()), clinic.timezone)
    r = owner_api.put(clinic_url(clinic, "hours/"), {**WEEK, **change}, format="json")
    assert r.status_code == 400 and field in r.json(), r.content
    clinic.refresh_from_db()
    assert (list(FrontDesk.objects.filter(clinic=clinic).values()), clinic.timezone) == before


def test_hours_need_weekly_and_closures(owner_api, clinic):
    r = owner_api.put(clinic_url(clinic, "hours/"), {"timezone": "UTC"}, format="json")
    assert r.status_code == 400 and "weekly" in r.json()


def test_a_viewer_reads_but_cannot_change_the_hours(api_client, clinic, viewer):
    api_client.force_authenticate(viewer)
    assert api_client.get(clinic_url(clinic, "hours/")).status_code == 200
    assert api_client.put(clinic_url(clinic, "hours/"), WEEK, format="json").status_code == 403


def test_clinic_info_patch_keeps_fields_left_out(owner_api, clinic):
    url = clinic_url(clinic, "clinic-info/")
    r = owner_api.patch(
        url,
        {
            "address": "12 High Street, Springfield",
            "services": ["Check-ups", "Whitening", "Check-ups"],
            "emergency_number": "+1 (415) 555-0100",
            "faqs": [{"question": "Do you see children?", "answer": "Yes, from age 3."}],
        },
        format="json",
    )
    assert r.status_code == 200, r.content
    r = owner_api.patch(url, {"languages": ["English", "Spanish"]}, format="json")
    body = r.json()
    assert body["address"] == "12 High Street, Springfield"
    assert body["services"] == ["Check-ups", "Whitening"]
    assert body["emergency_number"] == "+14155550100"
    assert body["languages"] == ["English", "Spanish"]
    assert body["faqs"][0]["answer"] == "Yes, from age 3."


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"emergency_number": "call 911"}, "emergency_number"),
        ({"services": "Check-ups"}, "services"),
        ({"services": ["x" * 121]}, "services[0]"),
        ({"faqs": [{"question": "Parking?"}]}, "faqs[0]"),
        ({"faqs": [{"question": "Parking?", "answer": " "}]}, "faqs[0]"),
        ({"address": "a\x00b"}, "address"),
        ({"hours": []}, "hours"),
    ],
)
def test_bad_clinic_info_is_400_naming_the_field(owner_api, clinic, body, field):
    r = owner_api.patch(clinic_url(clinic, "clinic-info/"), body, format="json")
    assert r.status_code == 400, r.content
    assert field in r.json() or r.json().get("non_field_errors"), r.json()


def test_after_hours_route_needs_a_receptionist_of_the_same_clinic(owner_api, clinic, outsider):
    first = Receptionist.objects.first_of(clinic)
    night = receptionist_create(clinic=clinic, name="Night line")
    foreign = Receptionist.objects.exclude(clinic=clinic).first()
    url = clinic_url(clinic, f"receptionists/{first.pk}/after-hours/")
    assert owner_api.get(url).json() == {
        "action": "message",
        "greeting": "",
        "instructions": "",
        "route_to": None,
    }
    for body, field in (
        ({"action": "route"}, "route_to"),
        ({"action": "route", "route_to": foreign.pk}, "route_to"),
        ({"action": "route", "route_to": first.pk}, "route_to"),
        ({"action": "voicemail"}, "action"),
    ):
        r = owner_api.patch(url, body, format="json")
        assert r.status_code == 400 and field in r.json(), (body, r.content)
    r = owner_api.patch(
        url,
        {"action": "route", "route_to": night.pk, "greeting": "We're closed; one moment."},
        format="json",
    )
    assert r.status_code == 200 and r.json()["route_to"] == night.pk


def _live(clinic):
    Clinic.objects.filter(pk=clinic.pk).update(state=Clinic.State.LIVE)
    clinic.refresh_from_db()
    return clinic


@pytest.fixture
def agent():
    client = APIClient()  # not the owner's: force_authenticate would win over the token
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {agent_token_create(name='a')[1]}")
    return client


def _config(agent, clinic, **headers):
    return agent.get("/api/v1/agent/config", {"clinic": str(clinic.pk)}, **headers)


def test_config_says_open_until_and_opens_at_and_never_serves_a_stale_304(
    owner_api, agent, clinic, monkeypatch
):
    _live(clinic)
    owner_api.put(clinic_url(clinic, "hours/"), WEEK, format="json")
    now = {"at": datetime(2026, 12, 2, 16, 59, tzinfo=NY)}
    monkeypatch.setattr(call_time_config, "current_time", lambda: now["at"])
    r = _config(agent, clinic)
    body = r.json()
    assert body["open_now"] is True and body["open_until"] == "2026-12-02T17:00-05:00"
    assert body["opens_at"] is None
    assert body["hours"]["closures"] == [{"date": "2026-12-25", "reason": "Christmas Day"}]
    etag = r["ETag"]
    assert _config(agent, clinic, HTTP_IF_NONE_MATCH=etag).status_code == 304
    now["at"] = datetime(2026, 12, 2, 17, 0, tzinfo=NY)  # closing time: no 304 any more
    r = _config(agent, clinic, HTTP_IF_NONE_MATCH=etag)
    assert r.status_code == 200 and r["ETag"] != etag
    assert r.json()["open_now"] is False and r.json()["opens_at"] == "2026-12-03T09:00-05:00"


def test_config_etag_follows_hours_facts_and_after_hours_changes(owner_api, agent, clinic):
    _live(clinic)
    first = Receptionist.objects.first_of(clinic)
    seen = {_config(agent, clinic)["ETag"]}
    for url, method, body in (
        ("hours/", "put", WEEK),
        ("clinic-info/", "patch", {"address": "1 Main St"}),
        (f"receptionists/{first.pk}/after-hours/", "patch", {"greeting": "Closed now."}),
    ):
        getattr(owner_api, method)(clinic_url(clinic, url), body, format="json")
        r = _config(agent, clinic)
        assert r["ETag"] not in seen
        seen.add(r["ETag"])
    body = r.json()
    assert body["knowledge"]["address"] == "1 Main St"
    assert body["after_hours"]["greeting"] == "Closed now."


def test_a_route_to_a_deleted_receptionist_falls_back_to_taking_a_message(owner_api, agent, clinic):
    _live(clinic)
    first = Receptionist.objects.first_of(clinic)
    night = receptionist_create(clinic=clinic, name="Night line")
    url = clinic_url(clinic, f"receptionists/{first.pk}/after-hours/")
    owner_api.patch(url, {"action": "route", "route_to": night.pk}, format="json")
    routed = _config(agent, clinic).json()["after_hours"]
    assert routed["action"] == "route" and routed["route_to"]["id"] == night.pk
    receptionist_delete(receptionist=night)
    fallback = _config(agent, clinic).json()["after_hours"]
    assert fallback["action"] == "message" and fallback["route_to"] is None
