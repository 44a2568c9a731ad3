"""/api/v1/clinics/{slug}/carrier/ and .../carrier/numbers/ against the emulators."""

from __future__ import annotations

import json

import pytest

from telephony.models import CarrierAccount
from tests.api_helpers import api_as, clinic_url

from .conftest import KEY_SECRET, KEY_SID, NUMBERS, TELNYX_KEY

pytestmark = pytest.mark.django_db


def connect_twilio(api, clinic, emu, **extra):
    body = {"provider": "twilio", "account_sid": emu.account_sid, "auth_token": emu.auth_token}
    body.update(extra)
    return api.put(clinic_url(clinic, "carrier/"), body, format="json")


def test_not_connected_reads_as_such(clinic, owner):
    r = api_as(owner).get(clinic_url(clinic, "carrier/"))
    assert r.status_code == 200
    body = r.json()
    readiness = body.pop("readiness")
    assert body == {
        "provider": None,
        "state": "not_connected",
        "numbers_checked_at": None,
        "numbers": [],
        "waiting_for_carrier": True,
        "confirmed_by_hand": False,
        "confirmed_at": None,
    }
    assert (readiness["status"], readiness["ready"]) == ("waiting", False)


def test_connect_read_and_disconnect_twilio(clinic, owner, twilio):
    api = api_as(owner)
    api.post(clinic_url(clinic, "numbers/"), {"e164": "+14155550100"}, format="json")
    r = connect_twilio(api, clinic, twilio)
    assert r.status_code == 200, r.json()
    body = r.json()
    assert (body["provider"], body["state"], body["account"]) == (
        "twilio",
        "connected",
        twilio.account_sid,
    )
    assert body["numbers"] == [
        {"e164": "+14155550100", "in_account": True, "attached": False, "attached_elsewhere": False}
    ]
    assert twilio.auth_token not in json.dumps(api.get(clinic_url(clinic, "carrier/")).json())
    listed = api.get(clinic_url(clinic, "carrier/numbers/")).json()
    assert [n["e164"] for n in listed] == NUMBERS
    assert listed[0] == {
        "e164": "+14155550100",
        "usable": True,
        "why_not": "",
        "attached_elsewhere": False,
        "chosen": True,
    }
    assert api.delete(clinic_url(clinic, "carrier/")).status_code == 204
    assert api.get(clinic_url(clinic, "carrier/")).json()["state"] == "not_connected"


def test_connect_with_an_api_key_and_with_telnyx(clinic, owner, twilio, telnyx):
    api = api_as(owner)
    r = connect_twilio(api, clinic, twilio, auth_token="", api_key_sid=KEY_SID,
                       api_key_secret=KEY_SECRET)  # fmt: skip
    assert r.status_code == 200 and KEY_SID in r.json()["account"]
    api.delete(clinic_url(clinic, "carrier/"))
    r = api.put(clinic_url(clinic, "carrier/"), {"provider": "telnyx", "api_key": TELNYX_KEY},
                format="json")  # fmt: skip
    assert r.status_code == 200 and r.json()["account"] == "API v2 key saved"
    assert TELNYX_KEY not in json.dumps(r.json())


def test_refusals_are_400s_naming_the_field(clinic, owner, twilio):
    api = api_as(owner)
    r = connect_twilio(api, clinic, twilio, auth_token="not-the-token")
    assert r.status_code == 400
    assert r.json()["auth_token"][0].startswith("Twilio rejected these credentials")
    r = connect_twilio(api, clinic, twilio, account_sid="AC12")
    assert r.status_code == 400 and "account_sid" in r.json()
    r = api.put(clinic_url(clinic, "carrier/"), {"provider": "twilio", "token": "x"}, format="json")
    assert r.status_code == 400 and "token" in r.json()
    assert not CarrierAccount.objects.exists()


def test_numbers_need_a_connection(clinic, owner):
    r = api_as(owner).get(clinic_url(clinic, "carrier/numbers/"))
    assert r.status_code == 400
    assert r.json() == {"non_field_errors": ["Connect a carrier account first."]}


def test_a_put_without_credentials_keeps_the_stored_ones(clinic, owner, twilio):
    api = api_as(owner)
    connect_twilio(api, clinic, twilio)
    r = api.put(clinic_url(clinic, "carrier/"), {"provider": "twilio"}, format="json")
    assert r.status_code == 200
    assert CarrierAccount.objects.get().secret == twilio.auth_token
    assert [e for e in twilio.control.requests() if e["method"] == "ListTrunks"] != []


def test_viewers_read_but_may_not_connect_and_outsiders_see_nothing(
    clinic, owner, viewer, outsider, twilio
):
    connect_twilio(api_as(owner), clinic, twilio)
    as_viewer = api_as(viewer)
    assert as_viewer.get(clinic_url(clinic, "carrier/")).status_code == 200
    assert connect_twilio(as_viewer, clinic, twilio).status_code == 403
    assert as_viewer.delete(clinic_url(clinic, "carrier/")).status_code == 403
    assert api_as(outsider).get(clinic_url(clinic, "carrier/")).status_code == 404
    assert CarrierAccount.objects.count() == 1
