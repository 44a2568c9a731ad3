"""The upstream rate limiter: the local bucket with a fake clock, the Redis bucket for real."""

from __future__ import annotations

import os
import uuid

import pytest
import redis

from telephony.ratelimit import LimiterConfig, LocalLimiter, RateLimited, RedisLimiter, Yielding


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_local_bucket_allows_a_burst_then_paces():
    clock = Clock()
    lim = LocalLimiter(LimiterConfig(per_minute=60, burst=3, max_wait=10), clock=clock)

    assert [lim.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert lim.reserve() == pytest.approx(1.0)  # 1 token/s
    assert lim.reserve() == pytest.approx(2.0)  # reservations queue up
    clock.now += 10
    assert lim.reserve() == 0.0


def test_the_local_bucket_refuses_waits_beyond_the_maximum():
    lim = LocalLimiter(LimiterConfig(per_minute=60, burst=1, max_wait=0.5), clock=Clock())
    lim.reserve()
    with pytest.raises(RateLimited) as err:
        lim.reserve()
    assert err.value.wait == pytest.approx(1.0)


def test_retry_after_blocks_the_local_bucket():
    clock = Clock()
    lim = LocalLimiter(LimiterConfig(per_minute=6000, burst=10, max_wait=60), clock=clock)
    lim.block_for(5)
    assert lim.reserve() == pytest.approx(5.0)
    clock.now += 5
    assert lim.reserve() == 0.0


@pytest.fixture
def redis_client():
    client = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    prefix = f"test-ratelimit-{uuid.uuid4().hex}"
    yield client, prefix
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


def test_the_redis_bucket_is_shared_between_processes(redis_client):
    client, prefix = redis_client
    config = LimiterConfig(per_minute=60, burst=2, max_wait=30)
    worker_a = RedisLimiter(client, config, prefix=prefix)
    worker_b = RedisLimiter(client, config, prefix=prefix)

    assert worker_a.reserve() == 0.0
    assert worker_b.reserve() == 0.0
    # The burst is spent across both: the third caller, whichever it is, waits ~1 s.
    assert worker_a.reserve() == pytest.approx(1.0, abs=0.05)
    assert worker_b.reserve() == pytest.approx(2.0, abs=0.05)


def test_the_redis_bucket_honours_retry_after_for_everyone(redis_client):
    client, prefix = redis_client
    config = LimiterConfig(per_minute=6000, burst=100, max_wait=2)
    worker_a = RedisLimiter(client, config, prefix=prefix)
    worker_b = RedisLimiter(client, config, prefix=prefix)

    worker_a.block_for(1.5)
    assert worker_b.reserve() == pytest.approx(1.5, abs=0.05)
    worker_a.block_for(10)
    with pytest.raises(RateLimited):
        worker_b.reserve()
    assert worker_b.usage()["blocked_for"] > 8


def test_a_floor_leaves_the_reserve_for_callers_without_one():
    clock = Clock()
    lim = LocalLimiter(LimiterConfig(per_minute=60, burst=4, max_wait=0.5), clock=clock)

    assert [lim.reserve(floor=2) for _ in range(2)] == [0.0, 0.0]
    with pytest.raises(RateLimited) as err:  # a third would leave fewer than 2
        lim.reserve(floor=2)
    assert err.value.wait == pytest.approx(1.0)
    assert [lim.reserve() for _ in range(2)] == [0.0, 0.0]  # the reserve is still there
    clock.now += 3
    assert lim.reserve(floor=2) == 0.0


def test_the_redis_bucket_keeps_the_reserve_for_provisioning(redis_client):
    client, prefix = redis_client
    config = LimiterConfig(per_minute=6, burst=4, max_wait=1)
    scan = Yielding(RedisLimiter(client, config, prefix=prefix), reserve=2)
    provisioning = RedisLimiter(client, config, prefix=prefix)

    assert [scan.acquire(), scan.acquire()] == [0.0, 0.0]
    with pytest.raises(RateLimited):  # a token every 10 s: far beyond the scan's wait
        scan.acquire()
    assert [provisioning.reserve(), provisioning.reserve()] == [0.0, 0.0]
