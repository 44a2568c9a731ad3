"""The Telnyx carrier side (telephony/carriers/telnyx_trunking.py) against the emulator."""

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
from telephony.carriers.telnyx_trunking import TelnyxTrunking

from .conftest import TELNYX_KEY, TELNYX_NUMBERS

CLINIC = uuid.UUID("0d9e8f7a-6b5c-4d3e-8f1a-2b3c4d5e6f70")
HOST = "abc123.sip.livekit.cloud"


@pytest.fixture
def trunking(telnyx):
    return TelnyxTrunking(make_client("telnyx", secret=TELNYX_KEY))


def test_connection_fqdn_and_numbers(telnyx, trunking):
    connection = trunking.create_trunk(marker=markers.marker(CLINIC))
    assert markers.owner_of(connection.marker) == str(CLINIC)
    fqdn = trunking.add_origination(connection.trunk_id, host=HOST)
    assert [o.uri for o in trunking.originations(connection.trunk_id)] == [f"{HOST}:5060"]
    for e164 in TELNYX_NUMBERS[:2]:
        assert trunking.attach(connection.trunk_id, e164).attached_to == connection.trunk_id
    [state] = telnyx.control.state()["fqdn_connections"]
    assert state["transport_protocol"] == "TCP"
    assert state["inbound"]["ani_number_format"] == "+E.164"
    assert state["inbound"]["dnis_number_format"] == "+e164"
    assert state["phone_numbers"] == TELNYX_NUMBERS[:2]
    trunking.detach(connection.trunk_id, TELNYX_NUMBERS[0])
    trunking.remove_origination(connection.trunk_id, fqdn.origination_id)
    trunking.remove_origination(connection.trunk_id, fqdn.origination_id)
    trunking.delete_trunk(connection.trunk_id)
    trunking.delete_trunk(connection.trunk_id)
    state = telnyx.control.state()
    assert state["fqdn_connections"] == [] and len(state["numbers"]) == len(TELNYX_NUMBERS)


def test_a_number_on_another_connection_is_reported_not_taken(telnyx, trunking):
    headers = {"Authorization": f"Bearer {TELNYX_KEY}"}
    theirs = requests.post(f"{telnyx.base_url}/fqdn_connections",
                           json={"connection_name": "office PBX"}, headers=headers).json()  # fmt: skip
    number_id = telnyx.control.state()["numbers"][0]["id"]
    requests.patch(f"{telnyx.base_url}/phone_numbers/{number_id}",
                   json={"connection_id": theirs["data"]["id"]}, headers=headers)  # fmt: skip
    ours = trunking.create_trunk(marker=markers.marker(CLINIC))
    with pytest.raises(CarrierConflictError, match="does not take it over"):
        trunking.attach(ours.trunk_id, TELNYX_NUMBERS[0])
    trunking.detach(ours.trunk_id, TELNYX_NUMBERS[0])
    assert telnyx.control.state()["numbers"][0]["connection_id"] == theirs["data"]["id"]
    assert len(telnyx.control.requests("UpdatePhoneNumber")) == 1  # the test's own, only


def test_a_number_that_is_not_active_cannot_be_attached(telnyx, trunking):
    telnyx.control.post(
        "numbers", {"numbers": [{"phone_number": "+13125550180", "status": "port-pending"}]}
    )
    ours = trunking.create_trunk(marker=markers.marker(CLINIC))
    with pytest.raises(CarrierRejectedError, match="port-pending"):
        trunking.attach(ours.trunk_id, "+13125550180")


def test_a_lost_create_reply_leaves_a_marked_connection_to_adopt(telnyx, trunking):
    telnyx.control.add_faults(
        [{"method": "CreateFqdnConnection", "action": "commit_then_drop", "count": 1}]
    )
    with pytest.raises(CarrierTransientError):
        trunking.create_trunk(marker=markers.marker(CLINIC))
    ours = [t for t in trunking.trunks() if markers.owner_of(t.marker) == str(CLINIC)]
    assert len(ours) == 1


@pytest.mark.parametrize(
    ("rule", "retry_after"),
    [
        ({"status": 429, "retry_after": 4}, 4.0),
        ({"code": "10011"}, None),
        ({"status": 500}, None),
    ],
)
def test_transient_faults_are_transient(telnyx, trunking, rule, retry_after):
    telnyx.control.add_faults([{"method": "ListFqdnConnections", "action": "status", **rule}])
    with pytest.raises(CarrierTransientError) as caught:
        trunking.trunks()
    assert caught.value.retry_after == retry_after
    assert len(telnyx.control.requests("ListFqdnConnections")) == 1  # the SDK did not retry


def test_revoked_key_is_not_transient(telnyx, trunking):
    telnyx.control.post("credentials", {"api_key": "KEY-new"})
    with pytest.raises(CarrierCredentialsError, match="Telnyx rejected this API key"):
        trunking.trunks()
