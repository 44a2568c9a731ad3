"""The Twilio carrier side (telephony/carriers/twilio_trunking.py) against the emulator:
trunk, origination URLs, numbers; conflicts reported, never taken over; faults classified."""

from __future__ import annotations

import uuid

import pytest
import requests

from telephony.carriers import (
    CarrierConflictError,
    CarrierCredentialsError,
    CarrierRejectedError,
    CarrierTransientError,
    make_client,
    markers,
)
from telephony.carriers.errors import CarrierNumberError
from telephony.carriers.twilio_trunking import TwilioTrunking

from .conftest import NUMBERS

CLINIC = uuid.UUID("6f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f")
SIP = "sip:abc123.sip.livekit.cloud;transport=tcp"


@pytest.fixture
def trunking(twilio):
    carrier = make_client("twilio", account_sid=twilio.account_sid, secret=twilio.auth_token)
    return TwilioTrunking(carrier)


def make_trunk(trunking):
    return trunking.create_trunk(
        marker=markers.marker(CLINIC), domain=markers.twilio_domain(CLINIC)
    )


def test_markers_name_the_clinic_and_nothing_else(settings):
    name = markers.marker(CLINIC)
    assert len(name) <= 64 and markers.owner_of(name) == str(CLINIC)
    assert markers.owner_of("sb:other-deployment:" + str(CLINIC)) is None
    assert markers.owner_of("Main office trunk") is None
    assert markers.twilio_domain(CLINIC, 2) != markers.twilio_domain(CLINIC, 1)
    assert markers.twilio_domain(CLINIC).endswith(".pstn.twilio.com")


def test_trunk_origination_and_numbers(twilio, trunking):
    trunk = make_trunk(trunking)
    assert [t.trunk_id for t in trunking.trunks()] == [trunk.trunk_id]
    assert markers.owner_of(trunk.marker) == str(CLINIC)
    origin = trunking.add_origination(
        trunk.trunk_id, uri=SIP, priority=10, weight=10, name="LiveKit"
    )
    assert [o.uri for o in trunking.originations(trunk.trunk_id)] == [SIP]
    for e164 in NUMBERS[:2]:
        assert trunking.attach(trunk.trunk_id, e164).attached_to == trunk.trunk_id
    trunking.attach(trunk.trunk_id, NUMBERS[0])  # again: nothing to do
    [state] = twilio.control.state()["trunks"]
    assert state["phone_numbers"] == NUMBERS[:2]
    assert [u["sip_url"] for u in state["origination_urls"]] == [SIP]
    assert len(twilio.control.requests("AttachPhoneNumber")) == 2

    trunking.detach(trunk.trunk_id, NUMBERS[0])
    trunking.remove_origination(trunk.trunk_id, origin.origination_id)
    trunking.remove_origination(trunk.trunk_id, origin.origination_id)  # already gone: fine
    trunking.delete_trunk(trunk.trunk_id)
    trunking.delete_trunk(trunk.trunk_id)
    state = twilio.control.state()
    assert state["trunks"] == [] and len(state["numbers"]) == len(NUMBERS)


def test_a_number_on_another_trunk_is_reported_not_taken(twilio, trunking):
    auth = (twilio.account_sid, twilio.auth_token)
    theirs = requests.post(f"{twilio.url}/v1/Trunks", data={"FriendlyName": "PBX"}, auth=auth)
    theirs_sid = theirs.json()["sid"]
    number_sid = twilio.control.state()["numbers"][1]["sid"]
    requests.post(f"{twilio.url}/v1/Trunks/{theirs_sid}/PhoneNumbers",
                  data={"PhoneNumberSid": number_sid}, auth=auth)  # fmt: skip
    ours = make_trunk(trunking)
    with pytest.raises(CarrierConflictError) as caught:
        trunking.attach(ours.trunk_id, NUMBERS[1])
    assert theirs_sid in caught.value.message and "does not take it over" in caught.value.message
    trunking.detach(ours.trunk_id, NUMBERS[1])  # not ours to detach: left alone
    assert twilio.control.state()["numbers"][1]["trunk_sid"] == theirs_sid
    assert len(twilio.control.requests("AttachPhoneNumber")) == 1  # the test's own, only


def test_numbers_that_are_not_there_or_cannot_take_calls(twilio, trunking):
    twilio.control.post("numbers", {"numbers": [{"phone_number": "+14155550180", "voice": False}]})
    trunk = make_trunk(trunking)
    with pytest.raises(CarrierNumberError, match="not a number of this Twilio account"):
        trunking.attach(trunk.trunk_id, "+14155550999")
    with pytest.raises(CarrierNumberError, match="cannot take voice calls"):
        trunking.attach(trunk.trunk_id, "+14155550180")


def test_a_lost_create_reply_then_the_domain_is_taken_by_our_own_trunk(twilio, trunking):
    twilio.control.add_faults([{"method": "CreateTrunk", "action": "commit_then_drop", "count": 1}])
    with pytest.raises(CarrierTransientError):
        make_trunk(trunking)
    with pytest.raises(CarrierRejectedError) as caught:
        make_trunk(trunking)
    assert caught.value.code == "21248"
    ours = [t for t in trunking.trunks() if markers.owner_of(t.marker) == str(CLINIC)]
    assert [t.target for t in ours] == [markers.twilio_domain(CLINIC)]  # found, adoptable


@pytest.mark.parametrize(
    ("rule", "retry_after"),
    [
        ({"status": 429, "retry_after": 7}, 7.0),
        ({"status": 429}, None),
        ({"code": "20429"}, None),
        ({"status": 503}, None),
        ({"action": "commit_then_hang", "hang_s": 30}, None),
    ],
)
def test_transient_faults_are_transient(twilio, trunking, settings, rule, retry_after):
    settings.CARRIER_TIMEOUT_SECONDS = 1.0
    fault = {"method": "ListTrunks", "action": "status", "count": 1, **rule}
    twilio.control.add_faults([fault])
    carrier = make_client("twilio", account_sid=twilio.account_sid, secret=twilio.auth_token)
    with pytest.raises(CarrierTransientError) as caught:
        TwilioTrunking(carrier).trunks()
    assert caught.value.retry_after == retry_after


def test_revoked_credentials_are_not_transient(twilio, trunking):
    twilio.control.post("credentials", {"auth_token": "revoked-and-replaced"})
    with pytest.raises(CarrierCredentialsError, match="Twilio rejected these credentials"):
        trunking.trunks()
