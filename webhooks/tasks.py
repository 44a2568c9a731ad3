"""Celery adapters for webhook delivery, the sweeper and the log's retention."""

from __future__ import annotations

from celery import shared_task

from telephony.task_options import DB_RETRY
from webhooks import delivery, sweeper


@shared_task(
    name="webhooks.deliver",
    **DB_RETRY,
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
