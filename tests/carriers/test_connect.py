"""Connecting a carrier account: shape checks, the check at the carrier (emulators over
HTTP), plain-words refusals, nothing saved on a refusal, encryption, audit entries."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from audit.models import AuditEntry
from telephony import carrier_services as carriers
from telephony.models import CarrierAccount

from .conftest import KEY_SECRET, KEY_SID, NUMBERS, RESTRICTED_SID, TELNYX_KEY, TELNYX_NUMBERS

pytestmark = pytest.mark.django_db


def twilio_creds(emu, **overrides):
    values = {"provider": "twilio", "account_sid": emu.account_sid, "auth_token": emu.auth_token}
    values.update(overrides)
    return carriers.parse_credentials(**values)


def refusal(exc_info) -> dict:
    return exc_info.value.message_dict


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"provider": "vonage"}, "provider"),
        ({"provider": "twilio", "account_sid": "AC123", "auth_token": "x" * 32}, "account_sid"),
        ({"provider": "twilio", "account_sid": "AC" + "0" * 32}, "auth_token"),
        (
            {"provider": "twilio", "account_sid": "AC" + "0" * 32, "api_key_sid": "KS1"},
            "api_key_sid",
        ),
        (
            {
                "provider": "twilio",
                "account_sid": "AC" + "0" * 32,
                "auth_token": "t" * 32,
                "api_key_sid": KEY_SID,
                "api_key_secret": "s" * 32,
            },
            "auth_token",
        ),
        ({"provider": "telnyx"}, "api_key"),
        ({"provider": "telnyx", "api_key": "has spaces in it"}, "api_key"),
    ],
)
def test_malformed_credentials_name_the_field_before_any_call(values, field):
    with pytest.raises(ValidationError) as caught:
        carriers.parse_credentials(**values)
    assert list(refusal(caught)) == [field]


def test_twilio_connect_with_the_auth_token(clinic, owner, twilio):
    account = carriers.carrier_connect(clinic=clinic, creds=twilio_creds(twilio), actor=owner)
    assert (account.provider, account.state, account.account_sid) == (
        "twilio",
        "connected",
        twilio.account_sid,
    )
    assert sorted(account.numbers_seen) == NUMBERS
    [entry] = AuditEntry.objects.filter(event="carrier.connected")
    assert entry.additional_data["account"] == twilio.account_sid
    assert twilio.auth_token not in str(entry.changes) + str(entry.additional_data)


def test_twilio_connect_with_an_api_key(clinic, owner, twilio):
    creds = twilio_creds(twilio, auth_token="", api_key_sid=KEY_SID, api_key_secret=KEY_SECRET)
    account = carriers.carrier_connect(clinic=clinic, creds=creds, actor=owner)
    assert account.api_key_sid == KEY_SID and account.secret == KEY_SECRET


def test_wrong_token_is_refused_in_plain_words_and_nothing_saved(clinic, owner, twilio):
    with pytest.raises(ValidationError) as caught:
        carriers.carrier_connect(
            clinic=clinic, creds=twilio_creds(twilio, auth_token="wrong-token-123"), actor=owner
        )
    assert refusal(caught) == {
        "auth_token": [
            "Twilio rejected these credentials: check the account SID and the auth token "
            "or API key."
        ]
    }
    assert not CarrierAccount.objects.exists()
    assert not AuditEntry.objects.filter(event="carrier.connected").exists()


def test_a_key_without_trunking_is_refused(clinic, owner, twilio):
    creds = twilio_creds(
        twilio, auth_token="", api_key_sid=RESTRICTED_SID, api_key_secret=KEY_SECRET
    )
    with pytest.raises(ValidationError) as caught:
        carriers.carrier_connect(clinic=clinic, creds=creds, actor=owner)
    [message] = refusal(caught)["api_key_secret"]
    assert message.startswith("This Twilio key cannot manage SIP trunking")
    assert not CarrierAccount.objects.exists()


def test_a_carrier_that_does_not_answer_saves_nothing(clinic, owner, twilio):
    twilio.control.add_faults([{"method": "*", "action": "status", "status": 503}])
    with pytest.raises(ValidationError) as caught:
        carriers.carrier_connect(clinic=clinic, creds=twilio_creds(twilio), actor=owner)
    assert caught.value.messages == [
        "Twilio did not answer just now, so nothing was saved. Try again in a minute."
    ]
    assert not CarrierAccount.objects.exists()


def test_telnyx_connect_and_refusal(clinic, owner, telnyx):
    with pytest.raises(ValidationError) as caught:
        carriers.carrier_connect(
            clinic=clinic,
            creds=carriers.parse_credentials(provider="telnyx", api_key="KEY-wrong-123"),
            actor=owner,
        )
    assert list(refusal(caught)) == ["api_key"]
    account = carriers.carrier_connect(
        clinic=clinic,
        creds=carriers.parse_credentials(provider="telnyx", api_key=TELNYX_KEY),
        actor=owner,
    )
    assert account.provider == "telnyx" and sorted(account.numbers_seen) == TELNYX_NUMBERS
    assert account.identifier == "API v2 key saved"


def test_the_secret_is_encrypted_at_rest(clinic, owner, twilio):
    carriers.carrier_connect(clinic=clinic, creds=twilio_creds(twilio), actor=owner)
    with connection.cursor() as cur:
        cur.execute("SELECT secret FROM telephony_carrieraccount")
        [(stored,)] = cur.fetchall()
    assert stored.startswith("gAAAAA") and twilio.auth_token not in stored


def test_new_credentials_replace_old_ones_and_switching_carrier_needs_a_disconnect(
    clinic, owner, twilio, telnyx
):
    carriers.carrier_connect(clinic=clinic, creds=twilio_creds(twilio), actor=owner)
    twilio.control.post("credentials", {"auth_token": "rotated-token-456"})
    carriers.carrier_connect(
        clinic=clinic, creds=twilio_creds(twilio, auth_token="rotated-token-456"), actor=owner
    )
    assert CarrierAccount.objects.get().secret == "rotated-token-456"
    assert AuditEntry.objects.filter(event="carrier.credentials_changed").count() == 1
    with pytest.raises(ValidationError) as caught:
        carriers.carrier_connect(
            clinic=clinic,
            creds=carriers.parse_credentials(provider="telnyx", api_key=TELNYX_KEY),
            actor=owner,
        )
    assert refusal(caught) == {
        "provider": ["This clinic is connected to Twilio. Disconnect it first."]
    }


def test_disconnect_forgets_the_credentials(clinic, owner, twilio):
    carriers.carrier_connect(clinic=clinic, creds=twilio_creds(twilio), actor=owner)
    assert carriers.carrier_disconnect(clinic=clinic, actor=owner) is True
    assert not CarrierAccount.objects.exists()
    assert AuditEntry.objects.filter(event="carrier.disconnected").count() == 1
    assert carriers.carrier_disconnect(clinic=clinic, actor=owner) is False
    assert len(twilio.control.state()["numbers"]) == len(NUMBERS)  # numbers untouched


def test_account_numbers_show_usable_chosen_and_attached_elsewhere(clinic, owner, twilio):
    from telephony.services import phone_number_add

    twilio.control.post("numbers", {"numbers": [{"phone_number": "+14155550180", "voice": False}]})
    carriers.carrier_connect(clinic=clinic, creds=twilio_creds(twilio), actor=owner)
    phone_number_add(clinic=clinic, number="+14155550100")
    sid = twilio.control.state()["numbers"][1]["sid"]
    import requests

    base = f"{twilio.url}/2010-04-01/Accounts/{twilio.account_sid}"
    auth = (twilio.account_sid, twilio.auth_token)
    trunk = requests.post(f"{twilio.url}/v1/Trunks", data={"FriendlyName": "theirs"}, auth=auth)
    requests.post(
        f"{base}/IncomingPhoneNumbers/{sid}.json", data={"TrunkSid": trunk.json()["sid"]}, auth=auth
    )
    choices = {c.e164: c for c in carriers.account_numbers(clinic=clinic)}
    assert choices["+14155550100"].chosen and choices["+14155550100"].usable
    assert choices["+14155550101"].attached_elsewhere
    assert not choices["+14155550180"].usable
    assert choices["+14155550180"].why_not == "This number cannot take voice calls."
    status = carriers.carrier_status(clinic=clinic)
    assert status["numbers"] == [
        {"e164": "+14155550100", "in_account": True, "attached": False, "attached_elsewhere": False}
    ]


def test_revoked_credentials_are_remembered_when_numbers_are_read(clinic, owner, twilio):
    carriers.carrier_connect(clinic=clinic, creds=twilio_creds(twilio), actor=owner)
    twilio.control.post("credentials", {"auth_token": "someone-rotated-it"})
    with pytest.raises(ValidationError, match="Twilio rejected these credentials"):
        carriers.account_numbers(clinic=clinic)
    account = CarrierAccount.objects.get()
    assert account.state == "credentials_rejected"
    assert account.status_message.startswith("Twilio rejected")


def test_rotation_command_re_encrypts_carrier_secrets(clinic, owner, twilio, settings):
    from cryptography.fernet import Fernet
    from django.core.management import call_command

    from telephony.crypto import _fernet_for

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    carriers.carrier_connect(clinic=clinic, creds=twilio_creds(twilio), actor=owner)
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    call_command("rotate_encryption_keys")
    settings.FIELD_ENCRYPTION_KEYS = [new]
    try:
        assert CarrierAccount.objects.get().secret == twilio.auth_token
    finally:
        _fernet_for.cache_clear()


def test_no_credential_reaches_the_logs(clinic, owner, twilio, telnyx, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    carriers.carrier_connect(clinic=clinic, creds=twilio_creds(twilio), actor=owner)
    with pytest.raises(ValidationError):
        carriers.carrier_connect(
            clinic=clinic, creds=twilio_creds(twilio, auth_token="wrong-token-789"), actor=owner
        )
    carriers.account_numbers(clinic=clinic)
    for secret in (twilio.auth_token, "wrong-token-789"):
        assert secret not in caplog.text
