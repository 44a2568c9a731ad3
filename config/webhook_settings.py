"""Settings of the outgoing webhooks (webhooks/, docs/webhooks.md), read from the environment."""

from __future__ import annotations

from config.environment import boolean as _bool
from config.environment import env

# The one switch that lets endpoints on loopback and private addresses through (development
# and tests); `make run` turns it on.
WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS = _bool("WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS", False)
WEBHOOKS_TIMEOUT_SECONDS = env.float("WEBHOOKS_TIMEOUT_SECONDS", default=10.0)
# Seconds before each attempt: the Standard Webhooks specification's example schedule
# (immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h: 75 h 35 min in all,
# about three days), each up to 20 % later (jitter; decision 0050).
WEBHOOKS_RETRY_SCHEDULE = [
    float(x)
    for x in env.list(
        "WEBHOOKS_RETRY_SCHEDULE",
        default=["0", "5", "300", "1800", "7200", "18000", "36000", "50400", "72000", "86400"],
    )
]
WEBHOOKS_ENDPOINT_CONCURRENCY = env.int("WEBHOOKS_ENDPOINT_CONCURRENCY", default=2)
WEBHOOKS_SECRET_GRACE_SECONDS = env.int("WEBHOOKS_SECRET_GRACE_SECONDS", default=24 * 3600)
# Three days: at most the schedule's total, so one event failing all its attempts disables
# the endpoint (and emails the owners) at its last attempt at the latest.
WEBHOOKS_DISABLE_AFTER_SECONDS = env.int("WEBHOOKS_DISABLE_AFTER_SECONDS", default=3 * 86400)
WEBHOOKS_SWEEP_SECONDS = env.float("WEBHOOKS_SWEEP_SECONDS", default=5.0)
WEBHOOKS_OUTCOME_WAIT_SECONDS = env.int("WEBHOOKS_OUTCOME_WAIT_SECONDS", default=120)
WEBHOOKS_LOG_DAYS = env.int("WEBHOOKS_LOG_DAYS", default=30)
