"""Settings of how provisioning lives with LiveKit's rate limits, read from the environment."""

from __future__ import annotations

from config.environment import env

# Runs ended by LiveKit's rate limit (a 429, or our limiter's refusal) spend no provisioning
# attempt; this many of them fail the clinic, with Retry (decision 0160).
PROVISIONING_MAX_RATE_LIMITED_RUNS = env.int("PROVISIONING_MAX_RATE_LIMITED_RUNS", default=30)
# The drift scan's calls leave this many tokens in the project's limiter bucket for
# provisioning (at most the burst less one); a scan that cannot wait for that is deferred
# to the next one (decision 0161).
DRIFT_SCAN_LIMITER_RESERVE = env.float("DRIFT_SCAN_LIMITER_RESERVE", default=5.0)
