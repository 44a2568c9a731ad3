"""The gateway's shared event loop: many threads at once, after fork, timeouts still enforced.

Against the emulator subprocess over HTTP; ground truth is its request log. No timed
assertions: concurrency is proven by the emulator's peak in-flight count, bounds by the
calls failing (a missing bound would hang the test instead).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time

import pytest

from emulators.livekit.testing import EmulatorProcess
from telephony import livekit_gateway
from telephony.livekit_gateway import LiveKitGateway, LiveKitTransientError, TrunkSpec

KEY, SECRET = "devkey", "gateway-loop-secret-0123456789abcdef0123"


@pytest.fixture(scope="module")
def emulator():
    with EmulatorProcess(api_key=KEY, api_secret=SECRET) as emu:
        yield emu


@pytest.fixture
def emu(emulator):
    emulator.control.clear_faults()
    emulator.control.reset()
    yield emulator
    emulator.control.clear_faults()


def gateway(emu: EmulatorProcess, timeout: float = 5.0) -> LiveKitGateway:
    return LiveKitGateway(emu.url, KEY, SECRET, timeout=timeout)


def test_calls_from_many_threads_run_concurrently_and_keep_their_own_call_info(emu):
    emu.control.add_faults([{"method": "*", "action": "latency", "latency_ms": 200}])
    gw = gateway(emu)
    seen: dict[int, list[tuple[str, str]]] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            out = []
            for j in range(3):
                spec = TrunkSpec(
                    name=f"t{i}-{j}", metadata="", numbers=(f"+1415555{i:02d}{j:02d}",)
                )
                trunk = gw.create_inbound_trunk(spec)
                out.append((trunk.trunk_id, gw.last_call.request_id))
            seen[i] = out
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    log = emu.control.requests_summary()
    # 16 threads were in LiveKit at the same time, not one after the other.
    assert log["peak_in_flight"]["CreateSIPInboundTrunk"] >= 8
    created = {r["created_id"]: r["request_id"] for r in log["requests"] if r["created_id"]}
    assert len(created) == 48
    for out in seen.values():
        for trunk_id, request_id in out:
            # Each thread's last_call names the request that created its trunk.
            assert created[trunk_id] == request_id and request_id


def test_a_hanging_call_is_still_cut_by_the_timeout_and_the_loop_survives(emu):
    emu.control.add_faults([{"method": "ListSIPInboundTrunk", "action": "hang", "count": 1}])
    gw = gateway(emu, timeout=0.5)
    with pytest.raises(LiveKitTransientError) as err:
        gw.list_inbound_trunks()
    assert "in time" in err.value.sentence
    assert gw.list_inbound_trunks() == []


def test_a_stuck_loop_is_bounded_by_the_guard(emu, monkeypatch):
    gw = gateway(emu, timeout=0.1)
    gw.list_inbound_trunks()  # the loop exists
    monkeypatch.setattr(livekit_gateway.gateway, "LOOP_GUARD_SECONDS", 0.1)
    loop = livekit_gateway._gateway_loop()
    release = threading.Event()
    loop.loop.call_soon_threadsafe(release.wait, 10)  # block the loop thread itself
    try:
        with pytest.raises(LiveKitTransientError):
            gw.list_inbound_trunks()
    finally:
        release.set()
    assert gw.list_inbound_trunks() == []


def _call_in_child(url: str, conn) -> None:
    try:
        gw = LiveKitGateway(url, KEY, SECRET, timeout=5)
        gw.create_inbound_trunk(TrunkSpec(name="child", metadata="", numbers=("+14155550999",)))
        loop = livekit_gateway._gateway_loop()
        conn.send((os.getpid(), loop.pid, gw.last_call.request_id))
    except BaseException as exc:
        conn.send(repr(exc))
    finally:
        conn.close()


def test_a_forked_child_builds_its_own_loop_and_the_parent_keeps_working(emu):
    gw = gateway(emu)
    gw.list_inbound_trunks()
    parent_loop = livekit_gateway._gateway_loop()
    ctx = multiprocessing.get_context("fork")
    here, there = ctx.Pipe()
    child = ctx.Process(target=_call_in_child, args=(emu.url, there))
    child.start()
    assert here.poll(30), "the child did not answer"
    answer = here.recv()
    child.join(10)
    assert isinstance(answer, tuple), answer
    child_pid, loop_pid, request_id = answer
    assert loop_pid == child_pid != os.getpid() and request_id
    assert child.exitcode == 0
    assert livekit_gateway._gateway_loop() is parent_loop
    assert [t.name for t in gw.list_inbound_trunks()] == ["child"]


def test_closing_the_loop_then_calling_again_opens_a_new_one(emu):
    gw = gateway(emu)
    gw.list_inbound_trunks()
    first = livekit_gateway._gateway_loop()
    livekit_gateway.close_gateway_loop()
    deadline = time.monotonic() + 5
    while first.thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not first.thread.is_alive()
    assert gw.list_inbound_trunks() == []
    assert livekit_gateway._gateway_loop() is not first


# --- calls started without waiting (the batch path) ---------------------------------------


def peak(requests: list[dict]) -> int:
    edges = sorted(
        [(r["started_at"], 1) for r in requests]
        + [(r["at"] or r["started_at"], -1) for r in requests]
    )
    cur = best = 0
    for _, delta in edges:
        cur += delta
        best = max(best, cur)
    return best


def test_started_calls_keep_to_their_in_flight_limit_and_each_gets_its_own_reply(emu):
    emu.control.add_faults([{"method": "*", "action": "latency", "latency_ms": 100}])
    gw = gateway(emu)
    specs = [TrunkSpec(name=f"s{i}", metadata="", numbers=(f"+1415556{i:04d}",)) for i in range(12)]

    calls = [gw.start_create_inbound_trunk(s, in_flight=4) for s in specs]
    trunks = [c.result() for c in calls]

    assert [t.numbers for t in trunks] == [s.numbers for s in specs]
    assert len({t.trunk_id for t in trunks}) == 12
    assert len({c.request_id for c in calls}) == 12 and all(c.request_id for c in calls)
    assert peak(emu.control.requests()) == 4  # queued on the loop, never more than 4 sent
    assert all(c.duration_ms >= 100 for c in calls)


def test_a_started_call_whose_turn_comes_too_late_is_never_sent(emu):
    emu.control.add_faults([{"method": "*", "action": "latency", "latency_ms": 300}])
    gw = gateway(emu)
    first = gw.start_create_inbound_trunk(
        TrunkSpec(name="first", metadata="", numbers=("+14155570001",)), in_flight=1
    )
    late = gw.start_create_inbound_trunk(
        TrunkSpec(name="late", metadata="", numbers=("+14155570002",)),
        in_flight=1,
        not_after=time.monotonic() + 0.05,  # its turn comes after the first call's 300 ms
    )

    assert first.result().name == "first"
    with pytest.raises(livekit_gateway.LiveKitNotSent):
        late.result()
    assert [r["method"] for r in emu.control.requests()] == ["CreateSIPInboundTrunk"]


def test_on_done_runs_once_when_the_call_ends_in_success_or_failure(emu):
    gw = gateway(emu)
    spec = TrunkSpec(name="one", metadata="", numbers=("+14155570003",))
    ended = threading.Event()
    ok = gw.start_create_inbound_trunk(spec)
    ok.on_done(ended.set)
    ok.result()
    assert ended.wait(5)

    taken = gw.start_create_inbound_trunk(spec)  # the same number again: a conflict
    done: list[bool] = []
    with pytest.raises(livekit_gateway.LiveKitRejectedError):
        taken.result()
    taken.on_done(lambda: done.append(True))  # after the end: runs at once
    assert done == [True]
