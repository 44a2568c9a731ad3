"""Fault actions of the control plane, each observed through livekit-api and the request log."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from google.protobuf.message import DecodeError
from livekit import api

from emulators.livekit.testing import EmulatorError

from .helpers import inbound, raw, token, twirp

CREATE = "CreateSIPInboundTrunk"


def create_req(n=0):
    return inbound([f"+1555000{n:04d}"])


def stored(control):
    return len(control.state()["inbound_trunks"])


def test_status_with_retry_after_then_recovery_after_count(emu, lk, control):
    control.add_faults(
        [
            {
                "method": CREATE,
                "action": "status",
                "status": 429,
                "code": "resource_exhausted",
                "retry_after": 5,
                "count": 1,
            }
        ]
    )
    status, headers, body = twirp(
        emu.url,
        CREATE,
        create_req().SerializeToString(),
        auth="Bearer " + token(emu.api_key, emu.api_secret),
    )
    assert (status, headers.get("Retry-After")) == (429, "5") and b"resource_exhausted" in body
    assert lk(lambda c: c.sip.create_inbound_trunk(create_req(1))).sip_trunk_id  # count used up
    assert stored(control) == 1


def test_status_defaults_and_method_scoping(lk, control):
    control.add_faults([{"method": "ListSIPInboundTrunk", "action": "status"}])
    with pytest.raises(api.TwirpError) as caught:
        lk(lambda c: c.sip.list_inbound_trunk(api.ListSIPInboundTrunkRequest()))
    assert (caught.value.status, caught.value.code) == (503, "unavailable")
    assert lk(lambda c: c.sip.create_inbound_trunk(create_req())).sip_trunk_id


def test_fail_before_commit_stores_nothing(lk, control):
    control.add_faults([{"method": CREATE, "action": "fail_before_commit", "status": 500}])
    with pytest.raises(api.TwirpError) as caught:
        lk(lambda c: c.sip.create_inbound_trunk(create_req()))
    assert caught.value.status == 500 and stored(control) == 0


def test_commit_then_drop_stores_and_closes_the_socket(lk, control):
    control.add_faults([{"method": CREATE, "action": "commit_then_drop", "count": 1}])
    with pytest.raises(aiohttp.ClientError):
        lk(lambda c: c.sip.create_inbound_trunk(create_req()))
    [row] = control.requests(CREATE)
    assert row["dropped"] and row["status"] is None and row["faults"] == ["commit_then_drop"]
    assert control.created_ids(CREATE) == [control.state()["inbound_trunks"][0]["sip_trunk_id"]]


def test_commit_then_status_stores_and_fails(lk, control):
    control.add_faults([{"method": CREATE, "action": "commit_then_status", "status": 408}])
    with pytest.raises(api.TwirpError) as caught:
        lk(lambda c: c.sip.create_inbound_trunk(create_req()))
    assert (caught.value.status, caught.value.code) == (408, "deadline_exceeded") and stored(
        control
    ) == 1


def test_malformed_body_stores_and_breaks_the_client_decode(lk, control):
    control.add_faults([{"method": CREATE, "action": "malformed_body"}])
    with pytest.raises(DecodeError):
        lk(lambda c: c.sip.create_inbound_trunk(create_req()))
    assert stored(control) == 1


@pytest.mark.parametrize(("action", "kept"), [("hang", 0), ("commit_then_hang", 1)])
def test_hangs_time_out_the_client(lk, control, action, kept):
    control.add_faults([{"method": CREATE, "action": action}])
    with pytest.raises(TimeoutError):
        lk(lambda c: asyncio.wait_for(c.sip.create_inbound_trunk(create_req()), 0.3))
    assert stored(control) == kept
    assert control.requests(CREATE)[0]["dropped"]


def test_latency_is_applied_and_logged(lk, control):
    control.add_faults([{"method": "*", "action": "latency", "latency_ms": 50}])
    lk(lambda c: c.sip.list_inbound_trunk(api.ListSIPInboundTrunkRequest()))
    [row] = control.requests()
    assert row["faults"] == ["latency"] and row["at"] - row["started_at"] >= 0.05


def test_probability_zero_and_expired_duration_never_fire(lk, control):
    control.add_faults(
        [{"action": "status", "probability": 0.0}, {"action": "status", "duration_s": 0}]
    )
    assert lk(lambda c: c.sip.create_inbound_trunk(create_req())).sip_trunk_id


def test_a_first_match_window_opens_with_the_first_request_not_at_installation(lk, control):
    control.add_faults(
        [
            {"action": "status", "duration_s": 0.2},
            {"action": "status", "duration_s": 0.2, "window_from": "first_match", "count": 1},
        ]
    )
    time.sleep(0.3)  # the installation-clock rule's window is over; the other has not opened
    with pytest.raises(api.TwirpError) as failed:
        lk(lambda c: c.sip.create_inbound_trunk(create_req()))
    assert failed.value.status == 503
    assert control.requests(CREATE)[0]["faults"] == ["status"]
    assert lk(lambda c: c.sip.create_inbound_trunk(create_req(1))).sip_trunk_id


def test_an_unknown_window_start_is_refused(control):
    with pytest.raises(EmulatorError):
        control.add_faults([{"action": "status", "duration_s": 1, "window_from": "later"}])


def test_barrier_holds_requests_until_enough_arrive(emu, control):
    control.add_faults([{"method": CREATE, "action": "barrier", "parties": 2, "count": 2}])

    async def main():
        async with api.LiveKitAPI(emu.url, emu.api_key, emu.api_secret) as lk:
            first = asyncio.ensure_future(lk.sip.create_inbound_trunk(create_req(1)))
            rows = await asyncio.to_thread(control.wait_for, lambda: control.requests(CREATE))
            assert not first.done() and rows[0]["code"] is None  # held at the barrier
            second = await lk.sip.create_inbound_trunk(create_req(2))
            return await first, second

    first, second = asyncio.run(main())
    assert first.sip_trunk_id != second.sip_trunk_id
    assert control.requests_summary()["peak_in_flight"][CREATE] >= 2


def test_toctou_delay_lets_concurrent_conflicting_creates_both_succeed(emu, control):
    async def race():
        async with api.LiveKitAPI(emu.url, emu.api_key, emu.api_secret) as lk:
            return await asyncio.gather(
                *(lk.sip.create_inbound_trunk(create_req(7)) for _ in range(2)),
                return_exceptions=True,
            )

    outcomes = asyncio.run(race())  # without the delay the event loop serialises check and store
    assert sum(isinstance(o, api.TwirpError) for o in outcomes) == 1
    control.reset()
    control.add_faults([{"method": CREATE, "action": "toctou_delay", "latency_ms": 200}])
    outcomes = asyncio.run(race())
    assert all(not isinstance(o, Exception) for o in outcomes) and stored(control) == 2


def test_bad_fault_specs_are_400_and_delete_clears(emu, control):
    with pytest.raises(EmulatorError, match="400"):
        control.add_faults([{"action": "explode"}])
    with pytest.raises(EmulatorError, match="400"):
        control.add_faults([{"action": "status", "colour": "red"}])
    control.add_faults([{"action": "status"}])
    assert len(control.faults()) == 1
    control.clear_faults()
    assert control.faults() == []
    assert raw(emu.url, "/_emulator/faults", b"not json", content_type="application/json")[0] == 400
