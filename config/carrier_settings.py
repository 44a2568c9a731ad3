"""Settings of the carrier connections (telephony/carriers/, docs/carriers.md)."""

from __future__ import annotations

from config.environment import env

# Empty: the real services. Set to an emulator's address (`make run` does) to point the
# platform at it: TWILIO_API_BASE_URL serves both api.twilio.com's and trunking.twilio.com's
# paths; TELNYX_API_BASE_URL replaces https://api.telnyx.com/v2 (give the /v2 too).
TWILIO_API_BASE_URL = env.str("TWILIO_API_BASE_URL", default="")
TELNYX_API_BASE_URL = env.str("TELNYX_API_BASE_URL", default="")
# Seconds one request to a carrier may take before it counts as lost.
CARRIER_TIMEOUT_SECONDS = env.float("CARRIER_TIMEOUT_SECONDS", default=10.0)
# Requests per minute (and burst) to one carrier account, shared by every worker process;
# a 429's Retry-After pauses that account only (docs/carriers.md).
CARRIER_RATE_LIMIT_PER_MINUTE = env.float("CARRIER_RATE_LIMIT_PER_MINUTE", default=300.0)
CARRIER_RATE_LIMIT_BURST = env.float("CARRIER_RATE_LIMIT_BURST", default=10.0)
# Buying numbers (telephony/purchase_runner.py): how long one attempt holds its purchase
# (longer than a few carrier requests), and how long the purchase sweeper leaves a pending
# purchase to its own task before publishing it again.
PURCHASE_LEASE_SECONDS = env.float("PURCHASE_LEASE_SECONDS", default=60.0)
PURCHASE_SWEEP_GRACE_SECONDS = env.float("PURCHASE_SWEEP_GRACE_SECONDS", default=30.0)
PURCHASE_BACKOFF_MAX_SECONDS = env.float("PURCHASE_BACKOFF_MAX_SECONDS", default=300.0)
# The outboxes of number purchases and releases (decisions 0110, 0165), merged into
# CELERY_BEAT_SCHEDULE.
CARRIER_BEAT_SCHEDULE = {
    "purchase-sweeper": {"task": "telephony.sweep_purchases", "schedule": 30.0},
    "release-sweeper": {"task": "telephony.sweep_releases", "schedule": 30.0},
}
