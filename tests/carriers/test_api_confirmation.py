"""The manual path in the API: PUT .../carrier/confirmation/ ("I've configured my carrier")
and what GET .../carrier/ says about waiting for the carrier (issue 14)."""

from __future__ import annotations

import pytest

from audit.models import AuditEntry
from telephony import services
from telephony.models import CarrierAccount, TrunkSettings
from tests.api_helpers import api_as, clinic_url

pytestmark = pytest.mark.django_db


def confirm(api, clinic, value):
    return api.put(clinic_url(clinic, "carrier/confirmation/"), {"confirmed": value}, format="json")


def carrier(api, clinic):
    r = api.get(clinic_url(clinic, "carrier/"))
    assert r.status_code == 200
    return r.json()


def test_confirming_by_hand_stops_the_wait_and_taking_it_back_restores_it(clinic, owner):
    api = api_as(owner)
    before = carrier(api, clinic)
    assert before["waiting_for_carrier"] is True and before["confirmed_by_hand"] is False
    assert before["readiness"]["label"] == "Waiting for your carrier"

    r = confirm(api, clinic, True)
    assert r.status_code == 200, r.json()
    body = r.json()
    assert body["confirmed"] is True and body["confirmed_at"]
    assert body["waiting_for_carrier"] is False
    assert api.get(clinic_url(clinic, "carrier/confirmation/")).json() == body
    full = carrier(api, clinic)
    assert full["waiting_for_carrier"] is False and full["confirmed_by_hand"] is True
    assert full["readiness"]["status"] == "confirmed"
    assert full["readiness"]["answering"] is False  # the first real call proves it
    assert TrunkSettings.objects.get(clinic=clinic).carrier_confirmed_at is not None

    again = confirm(api, clinic, True).json()  # idempotent: the first time is kept
    assert again["confirmed_at"] == body["confirmed_at"]

    back = confirm(api, clinic, False).json()
    assert back["waiting_for_carrier"] is True and back["confirmed_at"] is None
    assert carrier(api, clinic)["readiness"]["label"] == "Waiting for your carrier"


def test_the_confirmation_is_in_the_audit_log(clinic, owner):
    before = AuditEntry.objects.filter(clinic=clinic).count()
    confirm(api_as(owner), clinic, True)
    assert AuditEntry.objects.filter(clinic=clinic).count() > before


def test_a_real_call_ends_the_wait_without_a_confirmation(clinic, owner):
    from tests.carriers.test_readiness import make_call

    services.phone_number_add(clinic=clinic, number="+14155550100")
    make_call(clinic, is_test=False)
    body = carrier(api_as(owner), clinic)
    assert body["waiting_for_carrier"] is False
    assert body["readiness"]["status"] == "first_call" and body["readiness"]["answering"]


def test_a_connected_account_has_nothing_to_confirm(clinic, owner):
    CarrierAccount.objects.create(
        clinic=clinic, provider="twilio", account_sid="AC" + "1" * 32, secret="{}"
    )
    api = api_as(owner)
    r = confirm(api, clinic, True)
    assert r.status_code == 400
    assert "nothing to confirm" in r.json()["confirmed"]
    assert not TrunkSettings.objects.filter(clinic=clinic, carrier_confirmed_at__isnull=False)
    assert confirm(api, clinic, False).status_code == 200  # nothing to take back: fine


@pytest.mark.parametrize("body", [{}, {"confirmed": "yes"}, {"confirmed": 1}, {"confirmed": None}])
def test_a_confirmation_that_is_not_true_or_false_is_refused_naming_the_field(clinic, owner, body):
    r = api_as(owner).put(clinic_url(clinic, "carrier/confirmation/"), body, format="json")
    assert r.status_code == 400
    assert "confirmed" in r.json()
    assert not TrunkSettings.objects.filter(clinic=clinic, carrier_confirmed_at__isnull=False)


def test_a_viewer_cannot_confirm(clinic, viewer):
    r = confirm(api_as(viewer), clinic, True)
    assert r.status_code == 403
    assert not TrunkSettings.objects.filter(clinic=clinic, carrier_confirmed_at__isnull=False)


def test_a_changed_confirmation_time_is_refused_by_name(clinic, owner):
    api = api_as(owner)
    body = confirm(api, clinic, True).json()
    body["confirmed_at"] = "2020-01-01T00:00:00Z"
    r = api.put(clinic_url(clinic, "carrier/confirmation/"), body, format="json")
    assert r.status_code == 400 and "confirmed_at" in r.json()
