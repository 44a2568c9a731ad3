"""Celery adapters for webhook delivery, the sweeper and the log's retention."""

from __future__ import annotations

from celery import shared_task
from django.db import DatabaseError, InterfaceError, OperationalError

from webhooks import delivery, sweeper


@shared_task(
    name="webhooks.deliver",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError, InterfaceError, DatabaseError),
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=None,
    ignore_result=True,
)
def deliver(delivery_id: int) -> str:
    """Send one delivery (webhooks/delivery.py). A lost message costs time, not the event:
    the sweeper publishes every due delivery again."""
    return delivery.deliver(delivery_id)


@shared_task(name="webhooks.sweep", acks_late=True, ignore_result=True)
def sweep() -> dict[str, int]:
    swept = sweeper.sweep()
    return {
        "published": swept.published,
        "calls_ended": swept.calls_ended,
        "state_changes": swept.state_changes,
    }


@shared_task(name="webhooks.purge", acks_late=True, ignore_result=True)
def purge() -> int:
    return sweeper.purge()
