"""One upstream rate limit for every worker process: a token bucket in Redis.

LiveKit documents 1,000 API requests per minute per project. Every LiveKit call reserves a
token first; a caller whose token is in the future sleeps until then (reservations keep
callers in order and avoid a thundering herd). When LiveKit answers 429 with Retry-After,
`block_for` stops every process from calling until then. Without Redis (the embedded
`make run` mode) an in-process bucket does the same for the one worker process.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

logger = logging.getLogger(__name__)

# KEYS: bucket, blocked-until. ARGV: rate (tokens/s), burst, max wait (s), floor (tokens
# that must stay in the bucket after this one: 0 for provisioning, a reserve for the drift
# scan). Returns the seconds to wait for the reserved token, or minus the wait when it
# would exceed the maximum (refused: nothing is reserved).
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local floor = tonumber(ARGV[4] or '0')
local blocked = tonumber(redis.call('GET', KEYS[2]) or '0')
local tokens = tonumber(redis.call('HGET', KEYS[1], 'tokens') or tostring(burst))
local ts = tonumber(redis.call('HGET', KEYS[1], 'ts') or tostring(now))
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local wait = 0
if tokens < 1 + floor then wait = (1 + floor - tokens) / rate end
if blocked > now + wait then wait = blocked - now end
if wait > max_wait then
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
  return tostring(-wait)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens - 1), 'ts', tostring(now))
redis.call('EXPIRE', KEYS[1], 3600)
return tostring(wait)
"""

_BLOCK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local untl = now + tonumber(ARGV[1])
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if untl > cur then
  redis.call('SET', KEYS[1], tostring(untl), 'EX', math.ceil(tonumber(ARGV[1])) + 1)
end
return tostring(math.max(untl, cur) - now)
"""


class RateLimited(Exception):
    """The next token is further away than the caller may wait."""

    def __init__(self, wait: float | None) -> None:
        super().__init__("upstream rate limit")
        self.wait = wait


class Limiter(Protocol):
    def acquire(self) -> float: ...
    def block_for(self, seconds: float) -> None: ...


class Yielding:
    """A limiter for calls that give way to provisioning (the drift scan, decision 0161):
    each takes a token only once the bucket holds `reserve` more after it, waiting for
    that up to the limiter's maximum wait; beyond it, RateLimited (the caller defers)."""

    def __init__(self, inner: LocalLimiter | RedisLimiter, reserve: float) -> None:
        self.inner = inner
        self.reserve = reserve

    def acquire(self) -> float:
        return self.inner.acquire(floor=self.reserve)

    def block_for(self, seconds: float) -> None:
        self.inner.block_for(seconds)


@dataclass
class LimiterConfig:
    per_minute: float
    burst: float
    max_wait: float

    @property
    def rate(self) -> float:
        return self.per_minute / 60.0


class LocalLimiter:
    """The same bucket, in this process only (embedded mode, unit tests)."""

    def __init__(self, config: LimiterConfig, clock: Any = time.monotonic) -> None:
        self.config = config
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens = config.burst
        self._ts = clock()
        self._blocked_until = 0.0

    def reserve(self, floor: float = 0.0) -> float:
        with self._lock:
            now = self._clock()
            rate = self.config.rate
            tokens = min(self.config.burst, self._tokens + max(0.0, now - self._ts) * rate)
            wait = 0.0 if tokens >= 1 + floor else (1 + floor - tokens) / rate
            wait = max(wait, self._blocked_until - now)
            self._ts = now
            if wait > self.config.max_wait:
                self._tokens = tokens
                raise RateLimited(wait)
            self._tokens = tokens - 1
            return wait

    def acquire(self, floor: float = 0.0) -> float:
        wait = self.reserve(floor)
        if wait > 0:
            time.sleep(wait)
        return wait

    def block_for(self, seconds: float) -> None:
        with self._lock:
            self._blocked_until = max(self._blocked_until, self._clock() + seconds)


class RedisLimiter:
    """Shared by every process that uses the same Redis and key prefix."""

    def __init__(
        self, client: Any, config: LimiterConfig, prefix: str = "switchboard:livekit"
    ) -> None:
        self.client = client
        self.config = config
        self.keys = [f"{prefix}:bucket", f"{prefix}:blocked-until"]
        self._reserve = client.register_script(_RESERVE)
        self._block = client.register_script(_BLOCK)
        self._fallback = LocalLimiter(config)

    def reserve(self, floor: float = 0.0) -> float:
        c = self.config
        try:
            raw = self._reserve(keys=self.keys, args=[c.rate, c.burst, c.max_wait, floor])
        except Exception:  # Redis down: keep this process polite on its own
            logger.warning("rate limiter: Redis unreachable, using the local bucket")
            return self._fallback.reserve(floor)
        wait = float(raw)
        if wait < 0:
            raise RateLimited(-wait)
        return wait

    def acquire(self, floor: float = 0.0) -> float:
        wait = self.reserve(floor)
        if wait > 0:
            time.sleep(wait)
        return wait

    def block_for(self, seconds: float) -> None:
        self._fallback.block_for(seconds)
        try:
            self._block(keys=self.keys[1:], args=[seconds])
        except Exception:
            logger.warning("rate limiter: Redis unreachable, Retry-After kept locally")

    def usage(self) -> dict[str, float]:
        """Tokens left and seconds blocked, for the operations dashboard."""
        tokens, ts = self.client.hmget(self.keys[0], "tokens", "ts")
        blocked = float(self.client.get(self.keys[1]) or 0)
        now = time.time()
        left = self.config.burst
        if tokens is not None and ts is not None:
            left = min(self.config.burst, float(tokens) + (now - float(ts)) * self.config.rate)
        return {"tokens": left, "burst": self.config.burst, "blocked_for": max(0.0, blocked - now)}


_limiter: Limiter | None = None
_project_limiters: dict[str, Limiter] = {}
_limiter_lock = threading.Lock()
# How long a process keeps a project's request rate before reading it again (decision 0162).
RATE_REFRESH_SECONDS = 30.0
_rates: dict[str, tuple[float, float]] = {}  # project -> (per minute, when read)


def get_limiter(project: str = "default") -> Limiter:
    """The process's limiter for a LiveKit project (LiveKit's rate limit is per project),
    built from settings on first use (after any fork), at the project's own request rate
    (re-read every RATE_REFRESH_SECONDS). `default`'s Redis keys are the ones used before
    there were several projects."""
    global _limiter
    per_minute = project_rate(project)
    with _limiter_lock:
        if project != "default":
            limiter = _project_limiters.get(project)
            if limiter is None:
                limiter = _project_limiters[project] = _build(project)
        else:
            if _limiter is None:
                _limiter = _build()
            limiter = _limiter
    if isinstance(limiter, (LocalLimiter, RedisLimiter)):
        limiter.config.per_minute = per_minute
    return limiter


def project_rate(project: str = "default") -> float:
    """The project's LiveKit requests a minute: its own (LiveKitProject.rate_limit_per_minute)
    or LIVEKIT_RATE_LIMIT_PER_MINUTE; read at most every RATE_REFRESH_SECONDS."""
    from django.conf import settings

    now = time.monotonic()
    cached = _rates.get(project)
    if cached is not None and now - cached[1] < RATE_REFRESH_SECONDS:
        return cached[0]
    own = None
    try:
        from telephony.models import LiveKitProject

        rows = LiveKitProject.objects.filter(name=project)
        own = rows.values_list("rate_limit_per_minute", flat=True).first()
    except Exception:  # the database unreachable: the setting, until the next read
        logger.warning("rate limiter: project %s's rate unreadable, using the setting", project)
    per_minute = float(own) if own else float(settings.LIVEKIT_RATE_LIMIT_PER_MINUTE)
    _rates[project] = (per_minute, now)
    return per_minute


def reset_limiter() -> None:
    global _limiter
    with _limiter_lock:
        _limiter = None
        _project_limiters.clear()
        _carrier_limiters.clear()
        _rates.clear()


def _build(project: str = "default") -> Limiter:
    from django.conf import settings

    config = LimiterConfig(
        per_minute=settings.LIVEKIT_RATE_LIMIT_PER_MINUTE,
        burst=settings.LIVEKIT_RATE_LIMIT_BURST,
        max_wait=settings.LIVEKIT_RATE_LIMIT_MAX_WAIT_SECONDS,
    )
    prefix = "livekit" if project == "default" else f"livekit:project:{project}"
    return _shared(config, prefix)


def _shared(config: LimiterConfig, prefix: str) -> Limiter:
    """A bucket in Redis under the deployment's prefix (in-process without Redis)."""
    from django.conf import settings

    if settings.REDIS_URL:
        import redis

        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1
        )
        return RedisLimiter(client, config, prefix=f"{settings.SWITCHBOARD_DEPLOYMENT_ID}:{prefix}")
    return LocalLimiter(config)


_carrier_limiters: dict[str, Limiter] = {}


def carrier_limiter(account: str) -> Limiter:
    """The limiter of one carrier account (``twilio:AC…``, ``telnyx:<row>``): a carrier's
    rate limit is per account, and a 429's Retry-After pauses only that account."""
    from django.conf import settings

    with _limiter_lock:
        limiter = _carrier_limiters.get(account)
        if limiter is None:
            config = LimiterConfig(
                per_minute=settings.CARRIER_RATE_LIMIT_PER_MINUTE,
                burst=settings.CARRIER_RATE_LIMIT_BURST,
                max_wait=settings.LIVEKIT_RATE_LIMIT_MAX_WAIT_SECONDS,
            )
            limiter = _carrier_limiters[account] = _shared(config, f"carrier:{account}")
        return limiter
