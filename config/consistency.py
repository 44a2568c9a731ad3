"""Settings that only make sense together, checked when the settings load."""

from __future__ import annotations

from collections.abc import Mapping
from itertools import pairwise
from typing import Any

from django.core.exceptions import ImproperlyConfigured


def check_timeouts(s: Mapping[str, Any]) -> None:
    """HTTP timeout < soft limit < hard limit < visibility timeout; backoff cap below it."""
    chain = [
        (name, s[name])
        for name in (
            "LIVEKIT_TIMEOUT_SECONDS",
            "CELERY_TASK_SOFT_TIME_LIMIT",
            "CELERY_TASK_TIME_LIMIT",
            "CELERY_BROKER_VISIBILITY_TIMEOUT",
        )
    ]
    for (name_a, a), (name_b, b) in pairwise(chain):
        if not a < b:
            raise ImproperlyConfigured(f"{name_a} ({a}) must be smaller than {name_b} ({b}).")
    if not s["PROVISIONING_BACKOFF_MAX_SECONDS"] < s["CELERY_BROKER_VISIBILITY_TIMEOUT"]:
        raise ImproperlyConfigured(
            "PROVISIONING_BACKOFF_MAX_SECONDS must be smaller than "
            "CELERY_BROKER_VISIBILITY_TIMEOUT, or retries would be redelivered twice."
        )
    upstream_wait = s["LIVEKIT_TIMEOUT_SECONDS"] + s["LIVEKIT_RATE_LIMIT_MAX_WAIT_SECONDS"]
    if not upstream_wait * 1.5 < s["PROVISIONING_LEASE_SECONDS"]:
        raise ImproperlyConfigured(
            "PROVISIONING_LEASE_SECONDS must exceed 1.5 x (LIVEKIT_TIMEOUT_SECONDS + "
            "LIVEKIT_RATE_LIMIT_MAX_WAIT_SECONDS): the lease is renewed before every LiveKit "
            "call and must outlive the wait for a token plus the call."
        )
    if s["LIVEKIT_RATE_LIMIT_PER_MINUTE"] <= 0 or s["LIVEKIT_RATE_LIMIT_BURST"] < 1:
        raise ImproperlyConfigured(
            "LIVEKIT_RATE_LIMIT_PER_MINUTE must be positive and LIVEKIT_RATE_LIMIT_BURST >= 1."
        )
    if s["PROVISIONING_BATCH_SIZE"] < 1 or s["PROVISIONING_BATCH_IN_FLIGHT"] < 1:
        raise ImproperlyConfigured(
            "PROVISIONING_BATCH_SIZE and PROVISIONING_BATCH_IN_FLIGHT must be at least 1."
        )
