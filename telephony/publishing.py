"""Publishing reconcile tasks when the transaction that asked for them commits.

A broker outage never fails the person's request (the provisioning sweeper is the outbox,
decisions/0005), and the clinics one transaction changes are published together
(decisions/0010, decisions/0025).
"""

from __future__ import annotations

import logging
import threading
from functools import partial
from typing import Any

from celery import Signature, current_app
from django.conf import settings
from django.db import transaction

from telephony.models.projects import DEFAULT_PROJECT
from telephony.task_names import RECONCILE_CLINIC, RECONCILE_CLINICS
from tenants.models import Clinic

logger = logging.getLogger(__name__)


def _signature(name: str, args: list[Any], kwargs: dict[str, Any]) -> Signature:
    """A task by its name (telephony/task_names.py): the same message as the task object's
    apply_async, without importing telephony.tasks (which imports the engine, which imports
    the services): the import graph stays free of cycles."""
    return current_app.signature(name, args=args, kwargs=kwargs)


def _publish(clinic_id: str, verify: bool) -> None:
    try:
        _signature(RECONCILE_CLINIC, [clinic_id], {"verify": verify}).apply_async()
    except Exception:  # the broker is down: the sweeper is the outbox, nothing is lost
        logger.warning(
            "could not enqueue reconcile for clinic %s (broker unreachable); "
            "the provisioning sweeper will pick it up",
            clinic_id,
        )


def _publish_batch(clinic_ids: list[str]) -> None:
    try:
        _signature(RECONCILE_CLINICS, [clinic_ids], {}).apply_async()
    except Exception:  # as in _publish: the sweeper picks every one of them up
        logger.warning(
            "could not enqueue reconcile for %d clinics (broker unreachable); "
            "the provisioning sweeper will pick them up",
            len(clinic_ids),
        )


class _Batch:
    """The clinics one transaction asks to reconcile, published together when it commits.

    A transaction that takes one clinic live publishes one reconcile_clinic task, as
    before; one that takes many live (an import, a staff bulk action) publishes one
    reconcile_clinics task per PROVISIONING_BATCH_SIZE clinics (decisions/0010).

    Only documented on_commit behaviour is used (decisions/0025): each added clinic registers
    its own callback; Django runs a transaction's callbacks in the order they were registered
    and discards those registered inside a savepoint that rolls back. So when the first
    callback runs, every clinic added before it was undone: the batch publishes the clinics
    from that one on, once, and the later callbacks do nothing. A clinic added after it and
    then undone by a savepoint is published anyway: reconcile then finds nothing to do.
    """

    def __init__(self) -> None:
        self.clinic_ids: list[str] = []
        self.fired = False

    def add(self, clinic_id: str) -> None:
        index = len(self.clinic_ids)
        self.clinic_ids.append(clinic_id)
        transaction.on_commit(partial(self._committed, index), robust=True)

    def _committed(self, first: int) -> None:
        if self.fired:
            return
        self.fired = True
        if getattr(_pending, "batch", None) is self:
            _pending.batch = None
        ids = list(dict.fromkeys(self.clinic_ids[first:]))  # in order, each once
        if len(ids) == 1:
            _publish(ids[0], False)
            return
        size = settings.PROVISIONING_BATCH_SIZE
        for chunk in _chunks(ids, size):
            if len(chunk) == 1:
                _publish(chunk[0], False)
            else:
                _publish_batch(chunk)


def _chunks(ids: list[str], size: int) -> list[list[str]]:
    """Batches of at most `size` clinics, each of one LiveKit project, taking the projects
    in turn (A1 B1 C1 A2 ...): workers taking tasks in order then work on every project at
    once, each under its own rate limit, instead of one project's at a time
    (decisions/0136). One query; one project (or a failed query): plain slices in order."""
    try:
        projects = _projects_of(ids)
    except Exception:  # the batch still goes out, only not split by project
        logger.warning("could not read the clinics' LiveKit projects; batches not split")
        projects = {}
    groups: dict[str, list[str]] = {}
    for clinic_id in ids:
        name = projects.get(clinic_id)
        groups.setdefault(name or DEFAULT_PROJECT, []).append(clinic_id)
    sliced = [[g[i : i + size] for i in range(0, len(g), size)] for g in groups.values()]
    return [s[i] for i in range(max(map(len, sliced))) for s in sliced if i < len(s)]


def _projects_of(ids: list[str]) -> dict[str, str | None]:
    """Each clinic's LiveKit project's name (None: no project recorded, the default one)."""
    rows = Clinic.objects.filter(pk__in=ids).values_list("pk", "livekit_project__name")
    return {str(pk): name for pk, name in rows}


# This thread's open batch. A batch whose transaction rolled back never fires and is
# reused by the next transaction; its first callback then skips the stale clinics.
_pending = threading.local()


def enqueue_reconcile(clinic: Clinic, *, verify: bool = False) -> None:
    """Like delay_on_commit, but a broker outage never fails the user's request, and the
    clinics one transaction changes are published together."""
    clinic_id = str(clinic.pk)
    if verify or transaction.get_autocommit():
        transaction.on_commit(lambda: _publish(clinic_id, verify), robust=True)
        return
    batch = getattr(_pending, "batch", None)
    if batch is None or batch.fired:
        batch = _pending.batch = _Batch()
    batch.add(clinic_id)
