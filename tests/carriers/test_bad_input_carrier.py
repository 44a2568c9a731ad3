"""Issue 14's bad input, each a clear sentence with nothing half-created, through the API:
wrong and malformed credentials, an account with no numbers, a number that cannot take
voice calls (and one another trunk receives calls for) added through the numbers endpoint.
The Twilio and Telnyx emulators over HTTP."""

from __future__ import annotations

import pytest
import requests

from telephony.models import CarrierAccount, PhoneNumber, Provisioning
from tests.api_helpers import api_as, clinic_url

from .conftest import TELNYX_KEY

pytestmark = pytest.mark.django_db
NO_VOICE = "+14155550180"


def connect_twilio(api, clinic, emu, **extra):
    body = {"provider": "twilio", "account_sid": emu.account_sid, "auth_token": emu.auth_token}
    body.update(extra)
    return api.put(clinic_url(clinic, "carrier/"), body, format="json")


def add_number(api, clinic, e164):
    return api.post(clinic_url(clinic, "numbers/"), {"e164": e164}, format="json")


@pytest.mark.parametrize(
    ("extra", "field", "words"),
    [
        ({"auth_token": "wrong-token-0123456789"}, "auth_token", "Twilio rejected these"),
        ({"account_sid": "AC12"}, "account_sid", "AC"),
        ({"account_sid": "not a sid at all"}, "account_sid", "AC"),
        ({"auth_token": ""}, "auth_token", ""),
    ],
)
def test_wrong_or_malformed_twilio_credentials_name_the_field(
    clinic, owner, twilio, extra, field, words
):
    r = connect_twilio(api_as(owner), clinic, twilio, **extra)
    assert r.status_code == 400, r.json()
    message = r.json()[field]
    text = message if isinstance(message, str) else " ".join(message)
    assert words in text and text.endswith(".")
    assert not CarrierAccount.objects.exists()


@pytest.mark.parametrize("key", ["KEY-wrong-0123456789", "short", "x" * 201])
def test_wrong_or_malformed_telnyx_keys_name_the_field(clinic, owner, telnyx, key):
    r = api_as(owner).put(
        clinic_url(clinic, "carrier/"), {"provider": "telnyx", "api_key": key}, format="json"
    )
    assert r.status_code == 400
    assert "api_key" in r.json()
    assert not CarrierAccount.objects.exists()


def test_an_account_with_no_numbers_connects_and_lists_none(clinic, owner, twilio):
    twilio.control.post("numbers", {"replace": True, "numbers": []})
    api = api_as(owner)
    assert connect_twilio(api, clinic, twilio).status_code == 200
    assert api.get(clinic_url(clinic, "carrier/numbers/")).json() == []
    body = api.get(clinic_url(clinic, "carrier/")).json()
    assert body["numbers"] == [] and body["waiting_for_carrier"] is True
    # A number it does not have is not one Switchboard can attach: the engine says so.
    assert add_number(api, clinic, "+14155550101").status_code == 201


def test_a_number_without_voice_is_refused_when_added_and_nothing_is_created(clinic, owner, twilio):
    twilio.control.post("numbers", {"numbers": [{"phone_number": NO_VOICE, "voice": False}]})
    api = api_as(owner)
    assert connect_twilio(api, clinic, twilio).status_code == 200
    listed = {n["e164"]: n for n in api.get(clinic_url(clinic, "carrier/numbers/")).json()}
    assert listed[NO_VOICE]["usable"] is False
    assert listed[NO_VOICE]["why_not"] == "This number cannot take voice calls."

    r = add_number(api, clinic, NO_VOICE)
    assert r.status_code == 400
    assert r.json()["e164"] == [
        f"{NO_VOICE} cannot answer calls through Switchboard: This number cannot take voice calls."
    ]
    assert not PhoneNumber.objects.filter(e164=NO_VOICE).exists()
    generation = Provisioning.objects.get(clinic=clinic).generation
    assert add_number(api, clinic, NO_VOICE).status_code == 400
    assert Provisioning.objects.get(clinic=clinic).generation == generation  # nothing asked


def test_a_number_another_trunk_has_is_refused_when_added(clinic, owner, twilio):
    auth = (twilio.account_sid, twilio.auth_token)
    trunk = requests.post(
        f"{twilio.url}/v1/Trunks",
        data={"FriendlyName": "the office PBX", "DomainName": "office-pbx.pstn.twilio.com"},
        auth=auth,
        timeout=5,
    ).json()
    number = twilio.control.state()["numbers"][0]
    requests.post(
        f"{twilio.url}/v1/Trunks/{trunk['sid']}/PhoneNumbers",
        data={"PhoneNumberSid": number["sid"]},
        auth=auth,
        timeout=5,
    ).raise_for_status()
    api = api_as(owner)
    assert connect_twilio(api, clinic, twilio).status_code == 200
    r = add_number(api, clinic, number["phone_number"])
    assert r.status_code == 400
    (sentence,) = r.json()["e164"]
    assert "already sends its calls to something else in your Twilio account" in sentence
    assert not PhoneNumber.objects.exists()


def test_without_a_connected_account_numbers_are_added_as_before(clinic, owner, telnyx):
    api = api_as(owner)
    assert add_number(api, clinic, NO_VOICE).status_code == 201  # nothing known against it
    assert TELNYX_KEY  # the emulator was never asked
    assert telnyx.control.requests() == []
