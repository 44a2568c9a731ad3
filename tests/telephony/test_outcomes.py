"""Call outcomes (POST /api/v1/agent/calls/{room}/outcome), the call log's reads by role, the
CSV export, retention and a caller's erasure."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from telephony.agent_tokens import agent_token_create
from telephony.models import Call, CallLogPolicy, CallOutcome
from telephony.outcomes import erase_caller, purge_expired
from tests.factories import UserFactory, make_clinic

pytestmark = pytest.mark.django_db
CALLER = "+14155559876"


@pytest.fixture
def agent(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {agent_token_create(name='agent')[1]}")
    return client


def room(clinic, tail="Ab3dE5fG7hJk"):
    """The room LiveKit names when the rule shows the caller (decision 0031)."""
    return f"{clinic.room_prefix}_{CALLER}_{tail}"


def add_call(clinic, sid="RM_call1", tail="Ab3dE5fG7hJk", number=CALLER, **kw):
    return Call.objects.create(
        clinic=clinic,
        room_sid=sid,
        room_name=f"{clinic.room_prefix}_***{number[-4:]}_{tail}",
        mapped_by="trunk",
        caller_last4=number[-4:],
        caller_number=number,
        called_number="+14155550131",
        status="completed",
        **kw,
    )


def outcome_url(room_name):
    return f"/api/v1/agent/calls/{room_name}/outcome"


BODY = {
    "consent": "granted",
    "outcome": "appointment_request",
    "summary": "Wants a check-up next Tuesday.",
    "transcript": "Caller: I'd like a check-up.\nReceptionist: Of course.",
}


def as_user(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


# --- the agent's post ------------------------------------------------------------------------


def test_an_outcome_is_stored_once_and_a_retry_of_the_same_post_is_recognised(agent, clinic):
    add_call(clinic)
    first = agent.post(outcome_url(room(clinic)), BODY, format="json")
    assert first.status_code == 201, first.content
    assert first.json()["created"] is True and first.json()["transcript_stored"] is True
    again = agent.post(outcome_url(room(clinic)), BODY, format="json")
    assert again.status_code == 200 and again.json()["created"] is False
    (row,) = CallOutcome.objects.all()
    assert row.clinic == clinic and row.room_name == f"{clinic.room_prefix}_***9876_Ab3dE5fG7hJk"
    assert row.transcript == BODY["transcript"]


def test_a_different_outcome_for_the_same_call_is_refused(agent, clinic):
    agent.post(outcome_url(room(clinic)), BODY, format="json")
    r = agent.post(outcome_url(room(clinic)), {**BODY, "outcome": "other"}, format="json")
    assert r.status_code == 409 and "one outcome" in r.json()["detail"]
    assert CallOutcome.objects.get().outcome == "appointment_request"


def test_no_transcript_is_kept_when_the_caller_declined(agent, clinic):
    r = agent.post(outcome_url(room(clinic)), {**BODY, "consent": "declined"}, format="json")
    assert r.status_code == 201 and r.json()["transcript_stored"] is False
    assert CallOutcome.objects.get().transcript == ""


def test_no_transcript_is_kept_when_the_clinic_keeps_none(agent, clinic):
    CallLogPolicy.objects.create(clinic=clinic, transcript_days=0)
    r = agent.post(outcome_url(room(clinic)), BODY, format="json")
    assert r.status_code == 201 and r.json()["transcript_stored"] is False
    assert CallOutcome.objects.get().transcript == ""


def test_the_outcome_needs_the_agent_token(clinic, owner):
    assert APIClient().post(outcome_url(room(clinic)), BODY, format="json").status_code == 401
    assert as_user(owner).post(outcome_url(room(clinic)), BODY, format="json").status_code in (
        401,
        403,
    )
    assert not CallOutcome.objects.exists()


def test_a_room_of_no_clinic_is_404(agent, clinic):
    r = agent.post(outcome_url(f"nobody_{CALLER}_x"), BODY, format="json")
    assert r.status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"consent": "maybe"}, "consent"),
        ({"outcome": "booked"}, "outcome"),
        ({"summary": "x" * 2001}, "summary"),
        ({"consent_at": "yesterday"}, "consent_at"),
        ({"transcript": 12}, None),  # coerced to text: fine
    ],
)
def test_bad_fields_are_named(agent, clinic, change, field):
    r = agent.post(outcome_url(room(clinic)), {**BODY, **change}, format="json")
    if field is None:
        assert r.status_code == 201
    else:
        assert r.status_code == 400 and field in r.json()
        assert not CallOutcome.objects.exists()


def test_a_body_that_is_not_an_object_is_400(agent, clinic):
    r = agent.post(outcome_url(room(clinic)), "[1, 2]", content_type="application/json")
    assert r.status_code == 400


# --- the call log by role --------------------------------------------------------------------


def with_outcome(agent, clinic):
    call = add_call(clinic)
    agent.post(outcome_url(room(clinic)), BODY, format="json")
    return call


def test_owners_and_admins_see_the_number_viewers_see_it_masked(
    agent, clinic, owner, admin_member, viewer
):
    with_outcome(agent, clinic)
    url = f"/api/v1/clinics/{clinic.slug}/calls/"
    for user, caller in ((owner, CALLER), (admin_member, CALLER), (viewer, "***9876")):
        (row,) = as_user(user).get(url).json()["results"]
        assert row["caller"] == caller
        assert row["consent"] == "granted" and row["outcome"] == "appointment_request"
        assert row["summary"] == BODY["summary"]
        assert "transcript" not in row


def test_the_call_url_carries_the_transcript_for_owners_and_admins_only(
    agent, clinic, owner, admin_member, viewer, outsider
):
    with_outcome(agent, clinic)
    url = f"/api/v1/clinics/{clinic.slug}/calls/RM_call1/"
    for user in (owner, admin_member):
        body = as_user(user).get(url).json()
        assert body["transcript"] == BODY["transcript"] and body["caller"] == CALLER
    body = as_user(viewer).get(url).json()
    assert body["transcript"] is None and body["caller"] == "***9876"
    assert body["summary"] == BODY["summary"]
    assert as_user(outsider).get(url).status_code == 404
    assert as_user(owner).get(f"/api/v1/clinics/{clinic.slug}/calls/RM_none/").status_code == 404


def test_another_clinics_call_is_404_on_this_clinics_url(clinic, owner):
    add_call(make_clinic(name="Elsewhere"), sid="RM_theirs")
    r = as_user(owner).get(f"/api/v1/clinics/{clinic.slug}/calls/RM_theirs/")
    assert r.status_code == 404


def web_as(user):
    client = Client()
    client.force_login(user)
    return client


def test_the_web_call_detail_by_role(agent, clinic, owner, viewer, outsider):
    with_outcome(agent, clinic)
    url = reverse("tenants:call_detail", args=[clinic.slug, "RM_call1"])
    page = web_as(owner).get(url).content.decode()
    assert CALLER in page and "check-up" in page and "Of course." in page
    assert "RM_call1" in page and "+1 415 555 0131" in page  # room ID and the line called
    page = web_as(viewer).get(url).content.decode()
    assert "555 9876" not in page and CALLER not in page
    assert "***9876" in page and "Of course." not in page
    assert "Wants a check-up" in page
    assert web_as(outsider).get(url).status_code == 404


def test_the_dashboard_links_each_call_to_its_detail_and_shows_no_room_column(agent, clinic, owner):
    with_outcome(agent, clinic)
    page = web_as(owner).get(reverse("tenants:dashboard", args=[clinic.slug])).content.decode()
    assert reverse("tenants:call_detail", args=[clinic.slug, "RM_call1"]) in page
    assert "Appointment request" in page and CALLER in page
    assert "_***9876_" not in page  # the room name lives on the detail page


def test_the_csv_export_by_role(agent, clinic, owner, viewer):
    with_outcome(agent, clinic)
    CallOutcome.objects.update(summary="=HYPERLINK('x')")
    url = reverse("tenants:call_log_csv", args=[clinic.slug])
    response = web_as(owner).get(url)
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:5] == ["started_at", "ended_at", "duration_seconds", "status", "caller"]
    assert rows[1][4] == "'" + CALLER  # a leading + is quoted for spreadsheets
    assert rows[1][7] == "'=HYPERLINK('x')"
    viewer_rows = list(
        csv.reader(io.StringIO(b"".join(web_as(viewer).get(url).streaming_content).decode()))
    )
    assert viewer_rows[1][4] == "***9876"


def test_only_owners_set_the_retention(clinic, owner, admin_member):
    url = reverse("tenants:call_log", args=[clinic.slug])
    data = {"transcript_days": "0", "call_days": "30"}
    assert web_as(admin_member).post(url, data).status_code == 403
    assert not CallLogPolicy.objects.exists()
    assert web_as(admin_member).get(url).status_code == 200
    r = web_as(owner).post(url, {"transcript_days": "7", "call_days": "30"})
    assert r.status_code == 400 and "transcript_days" in r.context["form"].errors
    assert web_as(owner).post(url, data).status_code == 302
    policy = CallLogPolicy.objects.get(clinic=clinic)
    assert (policy.transcript_days, policy.call_days) == (0, 30)


# --- retention -------------------------------------------------------------------------------


def aged(clinic, days, *, sid, tail):
    call = add_call(clinic, sid=sid, tail=tail)
    outcome = CallOutcome.objects.create(
        clinic=clinic,
        room_name=call.room_name,
        consent="granted",
        outcome="answered",
        summary="s",
        transcript="t",
        body_hash="h",
    )
    past = timezone.now() - timedelta(days=days)
    Call.objects.filter(pk=call.pk).update(created_at=past)
    CallOutcome.objects.filter(pk=outcome.pk).update(posted_at=past)
    return call


def test_retention_purges_by_each_clinics_policy(clinic):
    other = make_clinic(name="Keeps Little")
    CallLogPolicy.objects.create(clinic=other, transcript_days=0, call_days=30)
    aged(clinic, 10, sid="RM_a", tail="a")  # defaults (90/365): all kept
    aged(clinic, 100, sid="RM_b", tail="b")  # transcript purged, call kept
    aged(other, 1, sid="RM_c", tail="c")  # not stored: transcript purged at once
    aged(other, 31, sid="RM_d", tail="d")  # call purged
    purged = purge_expired()
    assert (purged.transcripts, purged.calls, purged.outcomes) == (3, 1, 1)
    kept = dict(CallOutcome.objects.values_list("room_name", "transcript"))
    assert kept == {
        f"{clinic.room_prefix}_***9876_a": "t",
        f"{clinic.room_prefix}_***9876_b": "",
        f"{other.room_prefix}_***9876_c": "",
    }
    assert set(Call.objects.values_list("room_sid", flat=True)) == {"RM_a", "RM_b", "RM_c"}
    assert CallOutcome.objects.get(room_name__endswith="_b").transcript_purged_at is not None
    assert purge_expired() == type(purged)(0, 0, 0)  # idempotent


# --- erasure ---------------------------------------------------------------------------------


def test_erasing_a_caller_removes_their_calls_and_outcomes_in_that_clinic_only(clinic):
    other = make_clinic(name="Other Place")
    aged(clinic, 1, sid="RM_1", tail="1")
    aged(other, 1, sid="RM_2", tail="2")
    add_call(clinic, sid="RM_3", tail="3", number="+14155550000")
    erased = erase_caller(clinic=clinic, number=CALLER)
    assert (erased.calls, erased.outcomes) == (1, 1)
    assert set(Call.objects.values_list("room_sid", flat=True)) == {"RM_2", "RM_3"}
    assert CallOutcome.objects.get().clinic == other


def test_the_erase_command_names_bad_arguments(clinic):
    with pytest.raises(CommandError, match="clinic"):
        call_command("erase_caller", "nope", CALLER)
    with pytest.raises(CommandError, match="number"):
        call_command("erase_caller", clinic.slug, "12")
    aged(clinic, 1, sid="RM_1", tail="1")
    out = io.StringIO()
    call_command("erase_caller", clinic.slug, "+1 (415) 555-9876", stdout=out)
    assert "Erased 1 call(s)" in out.getvalue() and not Call.objects.exists()


def test_staff_erase_a_caller_from_the_admin(clinic):
    staff = UserFactory(email="root@switchboard.example", is_staff=True, is_superuser=True)
    aged(clinic, 1, sid="RM_1", tail="1")
    client = web_as(staff)
    url = reverse("admin:tenants_clinic_erase_caller", args=[clinic.pk])
    assert client.get(url).status_code == 200
    r = client.post(url, {"number": "not a number"})
    assert r.status_code == 400 and "Number:" in r.content.decode()
    assert Call.objects.exists()
    r = client.post(url, {"number": CALLER})
    assert r.status_code == 302 and not Call.objects.exists()
    plain = UserFactory(email="staff@switchboard.example", is_staff=True)
    assert web_as(plain).get(url).status_code == 403
