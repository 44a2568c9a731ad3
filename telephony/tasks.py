"""Celery tasks: thin adapters that load by id and call the provisioning engine."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.db.models import F, Q
from django.utils import timezone

from telephony.models import Provisioning
from telephony.moves import moves_to_advance
from telephony.provisioning.circuit import resume_everywhere
from telephony.provisioning.lease import lease_free
from telephony.provisioning.reconcile import reconcile_batch, reconcile_clinic
from telephony.task_names import ADVANCE_MOVE, RECONCILE_CLINIC, RECONCILE_CLINICS
from telephony.task_options import DB_RETRY

logger = logging.getLogger(__name__)

ACTIVE_STATES = (
    Provisioning.State.PENDING,
    Provisioning.State.PROVISIONING,
    Provisioning.State.RETRYING,
    Provisioning.State.DEPROVISIONING,
)


@shared_task(
    bind=True,
    name=RECONCILE_CLINIC,
    **DB_RETRY,
)
def reconcile_clinic_task(self: Any, clinic_id: str, verify: bool = False) -> str:
    """Reconcile one clinic.

    Retry policy: LiveKit failures are recorded on the clinic's Provisioning row by the
    engine, which answers with a backoff (exponential, full jitter, Retry-After honoured,
    capped by PROVISIONING_BACKOFF_MAX_SECONDS and PROVISIONING_MAX_ATTEMPTS); this task
    re-schedules itself for that moment. A busy lease re-schedules after the lease ends.
    Database outages retry through autoretry_for. The sweeper re-enqueues anything whose
    message was lost (broker restart, worker SIGKILL), so a lost retry only costs time.
    """
    result = reconcile_clinic(clinic_id, verify=verify)
    if result.retry_in is not None:
        raise self.retry(countdown=result.retry_in, max_retries=None)
    return result.outcome


@shared_task(
    name=RECONCILE_CLINICS,
    **DB_RETRY,
)
def reconcile_clinics_task(clinic_ids: list[str]) -> dict[str, int]:
    """Reconcile a batch of clinics that went live together (telephony/provisioning/many.py).

    Clinics off the batch's common path, and transient failures after their backoff, go on
    as one reconcile_clinic task each. If publishing those fails, the sweeper finds them:
    none of them is converged.
    """
    result = reconcile_batch(clinic_ids)
    for clinic_id in result.handed_over:
        reconcile_clinic_task.apply_async(args=[clinic_id])
    for clinic_id, delay in {**result.busy, **result.retry}.items():
        reconcile_clinic_task.apply_async(args=[clinic_id], countdown=delay)
    return result.counts()


@shared_task(name="telephony.sweep_provisioning", acks_late=True)
def sweep_provisioning(limit: int = 500) -> int:
    """The outbox relay: enqueue every clinic whose LiveKit state lags its generation.

    Picks clinics that are not failed, whose next attempt is due, and whose lease is free,
    so a change saved while the broker was down, a retry lost with a broker restart or a
    worker killed mid-task all converge within one sweep interval.
    """
    resumed = resume_everywhere()
    if resumed:
        logger.warning("LiveKit credentials accepted again: resuming %d clinic(s)", resumed)
    for move_id in moves_to_advance():
        advance_move.apply_async(args=[move_id])
    now = timezone.now()
    due = (
        Provisioning.objects.filter(observed_generation__lt=F("generation"))
        .filter(state__in=ACTIVE_STATES)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .filter(lease_free())  # the database's clock, like the lease itself
        .order_by("next_attempt_at")
        .values_list("clinic_id", flat=True)[:limit]
    )
    count = 0
    for clinic_id in due:
        reconcile_clinic_task.apply_async(args=[str(clinic_id)])
        count += 1
    if count:
        logger.info("sweeper enqueued %d clinic(s)", count)
    return count


@shared_task(name=ADVANCE_MOVE, acks_late=True, ignore_result=True)
def advance_move(move_id: int) -> str:
    """One step of a move between LiveKit projects (telephony/moves.py)."""
    from telephony.models import ProjectMove
    from telephony.moves import advance

    move = ProjectMove.objects.filter(pk=move_id).first()
    return advance(move).state if move is not None else "gone"


@shared_task(name="telephony.drift_scan", acks_late=True, ignore_result=True)
def drift_scan() -> dict[str, object]:
    """Compare each LiveKit project's trunks and rules with the database (list pages, not
    clinics), project by project; then each clinic's carrier trunk through its carrier
    account (decisions/0080).

    No retries: the next scheduled scan is the retry. A project that fails upstream is
    logged and reported; the others are scanned all the same.
    """
    from telephony.provisioning.carrier_drift import scan_carriers
    from telephony.provisioning.drift import scan_all

    report: dict[str, object] = dict(scan_all())
    report["carrier"] = scan_carriers()
    return report


@shared_task(name="telephony.purge_calls", acks_late=True, ignore_result=True)
def purge_calls() -> dict[str, int]:
    """Retention: drop transcripts and calls older than each clinic keeps them (hourly)."""
    from telephony.outcomes import purge_expired

    purged = purge_expired()
    return {"transcripts": purged.transcripts, "calls": purged.calls, "outcomes": purged.outcomes}


# The number purchases' tasks live in their own module; importing them here registers them
# with the worker (Celery's autodiscovery reads telephony.tasks).
from telephony.purchase_tasks import (  # noqa: E402, F401
    purchase_number_task,
    release_number_task,
    sweep_purchases,
    sweep_releases,
)
