"""The emulator's API rate limit (--rate-limit-per-minute): a token bucket that answers 429
resource_exhausted with Retry-After and stores nothing (decisions/0135)."""

from __future__ import annotations

import json

import pytest

from emulators.livekit.ratelimit import TokenBucket
from emulators.livekit.testing import EmulatorProcess

from .conftest import SECRET
from .helpers import inbound, token, twirp


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_bucket_grants_its_burst_then_one_token_per_interval():
    clock = Clock()
    bucket = TokenBucket(per_minute=60, burst=3, clock=clock)
    assert [bucket.take() for _ in range(3)] == [None, None, None]
    wait = bucket.take()
    assert wait == pytest.approx(1.0)
    clock.now += 0.5
    assert bucket.take() == pytest.approx(0.5)
    clock.now += 0.5
    assert bucket.take() is None
    assert bucket.take() == pytest.approx(1.0)
    assert bucket.refused == 3


def test_bucket_saves_up_no_more_than_its_burst_and_refills_on_reset():
    clock = Clock()
    bucket = TokenBucket(per_minute=600, burst=2, clock=clock)
    clock.now += 3600
    assert [bucket.take() for _ in range(3)][-1] == pytest.approx(0.1)
    bucket.reset()
    assert bucket.take() is None and bucket.take() is None


@pytest.mark.parametrize("per_minute, burst", [(0, 5), (-1, 5), (60, 0.5)])
def test_bucket_refuses_a_meaningless_limit(per_minute, burst):
    with pytest.raises(ValueError, match="positive rate"):
        TokenBucket(per_minute=per_minute, burst=burst)


def test_retry_after_is_whole_seconds_at_least_one():
    assert TokenBucket.retry_after(0.01) == 1
    assert TokenBucket.retry_after(1.0) == 1
    assert TokenBucket.retry_after(1.2) == 2


def test_the_process_answers_429_beyond_its_limit_and_stores_nothing(tmp_path):
    args = ["--rate-limit-per-minute", "6", "--rate-limit-burst", "2"]
    with EmulatorProcess(api_secret=SECRET, log_dir=tmp_path, extra_args=args) as emu:
        auth = "Bearer " + token(emu.api_key, SECRET)
        body = inbound(["+15550001"]).SerializeToString()
        first = twirp(emu.url, "CreateSIPInboundTrunk", body, auth=auth)
        second = twirp(emu.url, "ListSIPInboundTrunk", b"", auth=auth)
        assert (first[0], second[0]) == (200, 200)
        body = inbound(["+15550002"]).SerializeToString()
        status, headers, reply = twirp(emu.url, "CreateSIPInboundTrunk", body, auth=auth)
        assert status == 429
        assert json.loads(reply)["code"] == "resource_exhausted"
        assert int(headers["Retry-After"]) >= 1  # a token every 10 s: up to 10
        numbers = [t["numbers"] for t in emu.control.state()["inbound_trunks"]]
        assert numbers == [["+15550001"]]
        log = emu.control.requests()
        assert [r["status"] for r in log] == [200, 200, 429]
        assert log[-1]["faults"] == ["rate_limit"]
        # A request that fails authentication takes no token: LiveKit limits a project.
        assert twirp(emu.url, "ListSIPInboundTrunk", b"", auth="Bearer nope")[0] == 401
        emu.control.reset()  # a fresh project: the bucket is full again
        assert twirp(emu.url, "ListSIPInboundTrunk", b"", auth=auth)[0] == 200
