"""The project's API rate limit, when ``--rate-limit-per-minute`` asks for one.

LiveKit documented "a 1000 request per minute rate limit on API requests" per project
(livekit-sip.md §7); how Cloud counts them (window or bucket, burst) is UNCONFIRMED. The
emulator enforces a token bucket: ``per_minute / 60`` tokens a second, at most ``burst``
saved up, full at start and after a reset. Every Twirp request that passed authentication
and names a SIP method takes a token; one that finds none is answered 429
``resource_exhausted`` with ``Retry-After`` (whole seconds until the next token), the
standard Twirp mapping, and stores nothing (decisions/0135).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class TokenBucket:
    def __init__(
        self, per_minute: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError("the rate limit needs a positive rate and a burst of at least 1")
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self._clock = clock
        self.refused = 0
        self.reset()

    def reset(self) -> None:
        self.tokens = self.burst
        self.ts = self._clock()

    def take(self) -> float | None:
        """Take a token: None when granted, else the seconds until one is free."""
        now = self._clock()
        self.tokens = min(self.burst, self.tokens + (now - self.ts) * self.rate)
        self.ts = now
        if self.tokens >= 1:
            self.tokens -= 1
            return None
        self.refused += 1
        return (1 - self.tokens) / self.rate

    @staticmethod
    def retry_after(wait: float) -> int:
        """What the 429's Retry-After says: whole seconds, at least 1."""
        return max(1, math.ceil(wait))
