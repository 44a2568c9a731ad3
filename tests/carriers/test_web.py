"""The carrier step's automatic part in the web app (Django's client; the browser test
drives the same flow in Chromium), against the emulators over HTTP."""

from __future__ import annotations

import pytest

from telephony.models import CarrierAccount, PhoneNumber
from tests.tenants.web_helpers import setup_url

from .conftest import NUMBERS, TELNYX_KEY

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


def connect(client, clinic, emu, token=None):
    return client.post(
        setup_url(clinic, "carrier"),
        {
            "carrier_action": "connect",
            "provider": "twilio",
            "twilio-account_sid": emu.account_sid,
            "twilio-auth_token": token or emu.auth_token,
        },
    )


def test_the_step_offers_both_carriers_and_the_manual_way(owner_client, clinic):
    page = owner_client.get(setup_url(clinic, "carrier")).content.decode()
    assert "Connect Twilio" in page and "Connect Telnyx" in page
    assert "I'll configure my carrier myself" in page
    assert "Who may send you calls" in page  # today's manual settings stay


def test_connect_twilio_then_pick_numbers(owner_client, clinic, twilio):
    r = connect(owner_client, clinic, twilio)
    assert r.status_code == 302 and r.url.endswith("#carrier-connect")
    page = owner_client.get(setup_url(clinic, "carrier")).content.decode()
    assert "Connected to Twilio" in page and twilio.account_sid in page
    assert twilio.auth_token not in page
    for e164 in NUMBERS:
        assert f'value="{e164}"' in page
    r = owner_client.post(
        setup_url(clinic, "carrier"),
        {"carrier_action": "pick", "numbers": NUMBERS[:2]},
    )
    assert r.status_code == 302
    assert sorted(PhoneNumber.objects.values_list("e164", flat=True)) == NUMBERS[:2]
    page = owner_client.get(setup_url(clinic, "carrier")).content.decode()
    assert page.count("Answered by your receptionist") == 2


def test_wrong_credentials_come_back_in_plain_words_without_the_secret(
    owner_client, clinic, twilio
):
    r = connect(owner_client, clinic, twilio, token="typed-the-wrong-token")
    assert r.status_code == 400
    page = r.content.decode()
    assert "Twilio rejected these credentials" in page
    assert "typed-the-wrong-token" not in page
    assert twilio.account_sid in page  # what is not secret is kept
    assert not CarrierAccount.objects.exists()


def test_nothing_ticked_is_refused(owner_client, clinic, twilio):
    connect(owner_client, clinic, twilio)
    r = owner_client.post(setup_url(clinic, "carrier"), {"carrier_action": "pick"})
    assert r.status_code == 400 and "Tick at least one number." in r.content.decode()


def test_numbers_on_another_trunk_or_without_voice_cannot_be_ticked(owner_client, clinic, twilio):
    twilio.control.post("numbers", {"numbers": [{"phone_number": "+14155550180", "voice": False}]})
    connect(owner_client, clinic, twilio)
    page = owner_client.get(setup_url(clinic, "carrier")).content.decode()
    assert 'value="+14155550180"' not in page
    assert "This number cannot take voice calls." in page
    r = owner_client.post(
        setup_url(clinic, "carrier"), {"carrier_action": "pick", "numbers": ["+14155550180"]}
    )
    assert r.status_code == 400 and not PhoneNumber.objects.exists()


def test_an_account_without_numbers_says_so(owner_client, clinic, telnyx):
    telnyx.control.post("numbers", {"replace": True, "numbers": []})
    r = owner_client.post(
        setup_url(clinic, "carrier"),
        {"carrier_action": "connect", "provider": "telnyx", "telnyx-api_key": TELNYX_KEY},
    )
    assert r.status_code == 302
    page = owner_client.get(setup_url(clinic, "carrier")).content.decode()
    assert "Connected to Telnyx" in page and TELNYX_KEY not in page
    assert "Your Telnyx account has no phone numbers yet." in page


def test_disconnect(owner_client, clinic, twilio):
    connect(owner_client, clinic, twilio)
    r = owner_client.post(setup_url(clinic, "carrier"), {"carrier_action": "disconnect"})
    assert r.status_code == 302 and not CarrierAccount.objects.exists()
    page = owner_client.get(setup_url(clinic, "carrier")).content.decode()
    assert "Connect Twilio" in page


def test_viewers_see_the_connection_but_no_forms(client, clinic, owner, viewer, twilio):
    client.force_login(owner)
    connect(client, clinic, twilio)
    client.force_login(viewer)
    page = client.get(setup_url(clinic, "carrier")).content.decode()
    assert "Connected to Twilio" in page and "Disconnect" not in page
    r = client.post(setup_url(clinic, "carrier"), {"carrier_action": "disconnect"})
    assert r.status_code == 403 and CarrierAccount.objects.exists()
