"""Celery adapters of number purchases and releases (telephony/purchase_runner.py,
release_runner.py): their tasks and sweepers. Registered through telephony.tasks."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from telephony.task_names import PURCHASE_NUMBER, RELEASE_NUMBER
from telephony.task_options import DB_RETRY


@shared_task(
    bind=True,
    name=PURCHASE_NUMBER,
    **DB_RETRY,
    ignore_result=True,
)
def purchase_number_task(self: Any, purchase_id: str) -> str:
    """One attempt at a purchase; transient carrier failures (429, 5xx, a lost reply) come
    back after a backoff that honours Retry-After. A lost retry message only costs time: the
    purchase sweeper publishes every pending purchase whose attempt is due."""
    from telephony.purchase_runner import run_purchase

    outcome = run_purchase(purchase_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in, max_retries=None)
    return outcome.state


@shared_task(name="telephony.sweep_purchases", acks_late=True, ignore_result=True)
def sweep_purchases() -> int:
    from telephony.purchase_runner import sweep_purchases as sweep

    return sweep()


@shared_task(
    bind=True,
    name=RELEASE_NUMBER,
    **DB_RETRY,
    ignore_result=True,
)
def release_number_task(self: Any, release_id: str) -> str:
    """One attempt at a release; transient carrier failures come back after a backoff. The
    release sweeper publishes every pending release whose attempt is due."""
    from telephony.release_runner import run_release

    outcome = run_release(release_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in, max_retries=None)
    return outcome.state


@shared_task(name="telephony.sweep_releases", acks_late=True, ignore_result=True)
def sweep_releases() -> int:
    from telephony.release_runner import sweep_releases as sweep

    return sweep()
