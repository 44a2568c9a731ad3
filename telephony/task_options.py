"""Celery options shared by the tasks that must not be lost to a database outage.

`DB_RETRY` is the one policy of the provisioning, purchase and webhook-delivery tasks: the
message is acknowledged only after the task ran (acks_late) and goes back to the queue if
the worker dies mid-task (reject_on_worker_lost); a database error retries with exponential
backoff from 2 s, capped at 60 s, jittered, without limit (the task's own failures, such as
LiveKit's or a carrier's, are its own business and retry with their own countdown).

Use it as `@shared_task(name=..., **DB_RETRY)`.
"""

from __future__ import annotations

from typing import Any

from django.db import DatabaseError, InterfaceError, OperationalError

DB_RETRY: dict[str, Any] = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (OperationalError, InterfaceError, DatabaseError),
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": None,
}
