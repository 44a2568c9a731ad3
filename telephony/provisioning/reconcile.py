"""reconcile_clinic and reconcile_batch: bring upstream to the desired state (design.md §5).

Thin adapters over the engine (decisions/0011, 0046): the planner (planner.py) decides, the
executor (executor.py) applies with every guarantee of the lease, intents, events and
failure handling, for one clinic or, with the calls of many clinics in flight, for a set
(many.py). Safe to run any number of times, concurrently and out of order.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from typing import Any

from telephony.livekit_gateway import LiveKitGateway, get_gateway
from telephony.provisioning.executor import reconcile_clinic
from telephony.provisioning.lease import acquire_lease, renew_window_seconds
from telephony.provisioning.many import BatchResult, run_many
from telephony.provisioning.outcome import Result, backoff_seconds, failure_fields
from telephony.upstream import clinics_by_project, gateway_for

logger = logging.getLogger(__name__)

__all__ = [
    "BatchResult",
    "Result",
    "acquire_lease",
    "backoff_seconds",
    "failure_fields",
    "reconcile_batch",
    "reconcile_clinic",
    "renew_window_seconds",
]


def reconcile_batch(
    clinic_ids: Iterable[Any],
    *,
    gateway: LiveKitGateway | None = None,
    owner: str | None = None,
) -> BatchResult:
    """One run over a set of clinics (a bulk go-live). Never raises LiveKit errors. The
    result names the clinics that need a one-clinic run next, now or after a delay.

    The clinics of each LiveKit project are one batch run with that project's gateway,
    limiter and circuit, one project after another (decisions/0136); with `gateway`, all
    of them go to it."""
    ids = sorted({str(clinic_id) for clinic_id in clinic_ids})
    owner = owner or uuid.uuid4().hex
    if gateway is not None:
        groups = [(gateway, ids)]
    else:
        groups = [
            (get_gateway() if project is None else gateway_for(project), group)
            for project, group in clinics_by_project(ids)
        ]
    result = BatchResult()
    for gw, group in groups:
        part = run_many(group, gateway=gw, owner=owner)
        for name in BatchResult.__dataclass_fields__:
            mine, theirs = getattr(result, name), getattr(part, name)
            if isinstance(mine, dict):
                mine.update(theirs)
            else:
                mine.extend(theirs)
    logger.info("reconcile batch: %s", result.counts())
    return result
