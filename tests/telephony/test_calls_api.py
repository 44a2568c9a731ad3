"""GET /api/v1/clinics/{slug}/calls/ and POST .../test-call/ (both modes, real emulator)."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from telephony import services
from telephony.calllog import redact_room_name
from telephony.models import Call, Receptionist, TestCall
from telephony.provisioning.reconcile import reconcile_clinic
from telephony.services import agent_config_update
from tests.factories import make_clinic

pytestmark = pytest.mark.django_db
A, B = "+14155550131", "+14155550132"
CALLER = "+14155559876"


def as_user(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def calls_url(clinic):
    return f"/api/v1/clinics/{clinic.slug}/calls/"


def test_url(clinic):
    return f"/api/v1/clinics/{clinic.slug}/test-call/"


test_url.__test__ = False  # a helper, not a test


def add_call(clinic, sid, **kw):
    return Call.objects.create(
        clinic=clinic,
        room_sid=sid,
        room_name=f"{clinic.room_prefix}_9876_x",
        mapped_by="trunk",
        caller_last4="9876",
        **kw,
    )


# --- call log ---------------------------------------------------------------------------------


def test_members_read_their_clinic_calls_only(clinic, owner, viewer, outsider):
    add_call(clinic, "RM_mine", status="completed", duration_seconds=42, call_id="SCL_1")
    add_call(make_clinic(name="Elsewhere"), "RM_theirs")
    for user in (owner, viewer):
        r = as_user(user).get(calls_url(clinic))
        assert r.status_code == 200
        (row,) = r.json()["results"]
        assert row["room_sid"] == "RM_mine" and row["caller"] == "***9876"
        assert row["duration_seconds"] == 42 and row["status"] == "completed"
    assert as_user(outsider).get(calls_url(clinic)).status_code == 404
    assert APIClient().get(calls_url(clinic)).status_code in (401, 403)


# --- test call: access and validation -------------------------------------------------------


# One request per test: DRF marks the (test-wrapping) transaction for rollback on a 4xx, and
# the test-call view runs outside the request transaction by design.
def test_viewers_may_not_run_a_test_call(clinic, viewer):
    r = as_user(viewer).post(test_url(clinic), {"from": CALLER}, format="json")
    assert r.status_code == 403


def test_outsiders_do_not_see_the_test_call(clinic, outsider):
    r = as_user(outsider).post(test_url(clinic), {"from": CALLER}, format="json")
    assert r.status_code == 404


@pytest.mark.parametrize("value", [None, "", "12345", "+1 555 CALL-NOW", 15551234567, "tel:+1"])
def test_from_must_be_e164(clinic, owner, value):
    payload = {} if value is None else {"from": value}
    r = as_user(owner).post(test_url(clinic), payload, format="json")
    assert r.status_code == 400
    assert list(r.json()) == ["from"]


def test_a_clinic_without_numbers_is_told_to_add_one(clinic, owner):
    r = as_user(owner).post(test_url(clinic), {"from": CALLER}, format="json")
    assert r.status_code == 400 and "phone number" in json.dumps(r.json())


# --- test call against the emulator (both modes) -----------------------------------------------


@pytest.fixture
def lk_settings():
    return {"LIVEKIT_TIMEOUT_SECONDS": 3}


@pytest.fixture
def live(clinic, owner, lk):
    services.phone_number_add(clinic=clinic, number=A)
    services.phone_number_add(clinic=clinic, number=B)
    services.clinic_go_live(clinic=clinic, actor=owner)
    assert reconcile_clinic(clinic.pk).outcome == "converged"
    return clinic


def check_result(result, clinic, number, version=1):
    agent = result["agents"][0]
    assert result["number"] == number and result["outcome"] == "dispatch"
    assert result["passed"] is True, result["problems"]
    assert result["trunk_id"].startswith("ST_") and result["rule_id"].startswith("SDR_")
    assert (
        result["room_name_pattern"] == f"{clinic.room_prefix}_main_{CALLER}_<12 random characters>"
    )
    assert agent["agent_name"] == "switchboard-receptionist"
    assert json.loads(agent["metadata"]) == {
        "clinic": str(clinic.pk),
        "config_version": version,
        "line": "main",  # the receptionist's line slug (decision 0085)
        "receptionist": Receptionist.objects.first_of(clinic).pk,
    }


def test_emulator_mode_simulates_each_number(live, owner, lk, settings):
    settings.LIVEKIT_IS_EMULATOR = True
    r = as_user(owner).post(test_url(live), {"from": CALLER}, format="json")
    assert r.status_code == 200, r.content
    report = r.json()
    assert report["mode"] == "emulator" and report["dry_run"] is False and report["passed"]
    assert report["caller"] == "***9876"
    for result, number in zip(report["results"], [A, B], strict=True):
        check_result(result, live, number)
        assert result["room_name"].startswith(f"{live.room_prefix}_main_{CALLER}_")
    # The emulator really evaluated two calls.
    assert len([q for q in lk.requests() if q["method"].startswith("Create")]) == 2
    rows = TestCall.objects.for_clinic(live)
    assert rows.count() == 2 and all(t.passed and t.mode == "emulator" for t in rows)
    # Stored redacted: the rule shows the number in room names (decision 0031).
    assert {t.room_name for t in rows} == {
        redact_room_name(x["room_name"]) for x in report["results"]
    }


def test_dry_run_mode_evaluates_livekit_objects_without_a_call(live, owner, lk, settings):
    settings.LIVEKIT_IS_EMULATOR = False
    before = len(lk.requests())
    r = as_user(owner).post(test_url(live), {"from": CALLER}, format="json")
    assert r.status_code == 200, r.content
    report = r.json()
    assert report["mode"] == "dry_run" and report["dry_run"] is True and report["passed"]
    assert "Dry run" in report["label"]
    for result, number in zip(report["results"], [A, B], strict=True):
        check_result(result, live, number)
        assert result["room_name"] == ""
    methods = [q["method"] for q in lk.requests()[before:]]
    assert methods == ["ListSIPInboundTrunk", "ListSIPDispatchRule"]
    assert not lk.webhooks()


def test_dry_run_reports_a_stale_settings_version(live, owner, lk, settings):
    settings.LIVEKIT_IS_EMULATOR = False
    agent_config_update(clinic=live, greeting="New greeting")  # v2, not reconciled yet
    r = as_user(owner).post(test_url(live), {"from": CALLER}, format="json")
    report = r.json()
    assert report["passed"] is False
    assert "settings version 1" in report["results"][0]["problems"][0]
    assert not TestCall.objects.for_clinic(live).filter(passed=True).exists()


def test_a_draft_clinic_is_told_why_nothing_would_answer(clinic, owner, lk, settings):
    settings.LIVEKIT_IS_EMULATOR = True
    services.phone_number_add(clinic=clinic, number=A)
    r = as_user(owner).post(test_url(clinic), {"from": CALLER}, format="json")
    (result,) = r.json()["results"]
    assert result["outcome"] == "no_trunk" and not result["passed"]
    assert "not live yet" in result["problems"][0]


def test_an_unreachable_livekit_is_503(clinic, owner, settings):
    settings.LIVEKIT_IS_EMULATOR = True
    settings.LIVEKIT_URL = "http://127.0.0.1:1"
    services.phone_number_add(clinic=clinic, number=A)
    r = as_user(owner).post(test_url(clinic), {"from": CALLER}, format="json")
    assert r.status_code == 503 and "LiveKit" in r.json()["detail"]
