"""reconcile_batch: the engine over many clinics at once, with calls in flight.

When one transaction takes many clinics live (an import, a staff bulk action), running the
one-clinic executor for each costs about 30 queries, 6 commits and one Celery task per
clinic; on a small machine that CPU, not LiveKit, bounds how fast they go live. The batch
applies the same planner's actions, with the same fields, events and failure handling, to
a whole set of clinics per commit:

1. take every clinic's lease, read the desired state in three queries, plan each clinic,
   and commit the create intent of every clinic whose next action is a create (one commit);
2. make those creates concurrently: at most PROVISIONING_BATCH_IN_FLIGHT calls in flight
   per worker process (slots.py), each within its lease's renewal window, through the
   gateway's rate limiter and error classification;
3. in one commit: record every outcome, plan each clinic again, and write the next
   create's intent, or mark the clinic converged; repeat from 2 while creates remain.

A clinic whose next action is not a create (an observation, an update, a delete, a
conflict), that upstream refused, or that changed while the batch ran is handed to the
one-clinic executor (reconcile_clinic); transient failures are recorded as it records them
and retried by a per-clinic task after the backoff (decisions/0010).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction

from telephony.livekit_gateway import (
    LOCAL_RATE_LIMIT,
    LiveKitGateway,
    LiveKitNotFoundError,
    LiveKitRejectedError,
    PendingCall,
    get_gateway,
)
from telephony.models import Provisioning
from telephony.provisioning import actions as A
from telephony.provisioning.actions import Action, Observed
from telephony.provisioning.bulk import Writes
from telephony.provisioning.circuit import auth_blocked
from telephony.provisioning.desired import DesiredState, load_desired_many, spec_hash
from telephony.provisioning.kinds import BY_NAME
from telephony.provisioning.lease import db_now, free_or_mine, lease_expiry, renew_window_seconds
from telephony.provisioning.outcome import Circuit, busy_delay, converged_fields, failed, settled
from telephony.provisioning.planner import plan, records_of
from telephony.provisioning.slots import DEFERRED, Outcome, batch_numbers, wave

logger = logging.getLogger(__name__)

State = Provisioning.State
# What planning a clinic reads of its row.
_RECORD_FIELDS = (
    "id",
    "clinic_id",
    "state",
    "generation",
    "observed_generation",
    "trunk_id",
    "trunk_applied_hash",
    "trunk_intent",
    "trunk_intent_numbers",
    "dispatch_rule_id",
    "rule_applied_hash",
    "rule_intent",
    "lease_owner",
    "lease_until",
)


@dataclass
class BatchResult:
    """What a batch did with each clinic (ids as text)."""

    converged: list[str] = field(default_factory=list)
    noop: list[str] = field(default_factory=list)
    # Off the batch's path: reconcile_clinic must run for these now.
    handed_over: list[str] = field(default_factory=list)
    # Failed transiently: reconcile_clinic after this many seconds.
    retry: dict[str, float] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)
    # Another run held the lease when the batch started: try again after it ends.
    busy: dict[str, float] = field(default_factory=dict)
    # Lost the lease to another run during the batch: that run owns the clinic now.
    lost: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in self.__dataclass_fields__}


@dataclass
class _Item:
    """A clinic in the batch and the create it is about to make."""

    clinic_id: str
    desired: DesiredState
    prov: Provisioning  # the record the next plan starts from
    action: Action


def budget_seconds() -> float:
    """How long a batch may keep starting calls. Calls not started by then are left to
    reconcile_clinic, well before a task time limit (prefork enforces one) could interrupt
    the batch."""
    limit = settings.CELERY_TASK_SOFT_TIME_LIMIT
    return limit / 2 if limit else float("inf")


def _next_create(desired: DesiredState, prov: Provisioning) -> Action | bool | None:
    """The clinic's next action if it is a create; True when nothing is left; else None."""
    actions = plan(desired, records_of(prov), Observed())
    if not actions:
        return True
    return actions[0] if actions[0].op == A.CREATE else None


class _Batch:
    def __init__(self, gateway: LiveKitGateway, owner: str) -> None:
        self.gw = gateway
        self.owner = owner
        self.window = renew_window_seconds()
        self.lease = timedelta(seconds=settings.PROVISIONING_LEASE_SECONDS)
        self.renewed_at = -float("inf")
        self.result = BatchResult()
        self.circuit = Circuit()
        self.stop_at = time.monotonic() + budget_seconds()
        self.number = next(batch_numbers)  # older batches get call slots first

    # --- leases ---------------------------------------------------------------------------

    def begin(self, ids: list[str]) -> list[_Item]:
        """One transaction: take every free lease, read and plan, and commit the intents of
        the clinics whose next action is a create; free the others' leases."""
        started = time.monotonic()
        with transaction.atomic():
            now = db_now()  # leases are on the database's clock (lease.py)
            Provisioning.objects.filter(clinic_id__in=ids).filter(free_or_mine(self.owner)).update(
                lease_owner=self.owner, lease_until=lease_expiry()
            )
            held: dict[str, Provisioning] = {}
            for prov in Provisioning.objects.filter(clinic_id__in=ids).only(*_RECORD_FIELDS):
                clinic_id = str(prov.clinic_id)
                if prov.lease_owner == self.owner:
                    held[clinic_id] = prov
                else:
                    left = (prov.lease_until - now).total_seconds() if prov.lease_until else 0.0
                    self.result.busy[clinic_id] = busy_delay(left)
            self.result.noop.extend(i for i in ids if i not in held and i not in self.result.busy)
            items = self._sort(held) if held else []
            if items:
                writes = Writes()
                for item in items:
                    self._intent(writes, item, item.prov, now)
                writes.save()
            going = {item.clinic_id for item in items}
            # The others are not this batch's: free them for reconcile_clinic now.
            Provisioning.objects.filter(clinic_id__in=list(held), lease_owner=self.owner).exclude(
                clinic_id__in=list(going)
            ).update(lease_owner="", lease_until=None)
        self.renewed_at = started
        return items

    def release(self, ids: list[str]) -> None:
        Provisioning.objects.filter(clinic_id__in=ids, lease_owner=self.owner).update(
            lease_owner="", lease_until=None
        )

    def _renew(self, items: list[_Item]) -> list[_Item]:
        """Renew the leases of these clinics; the ones another run took are dropped."""
        started = time.monotonic()
        ids = [item.clinic_id for item in items]
        mine = Provisioning.objects.filter(clinic_id__in=ids, lease_owner=self.owner)
        if mine.update(lease_until=lease_expiry()) != len(ids):
            kept = {str(c) for c in mine.values_list("clinic_id", flat=True)}
            self.result.lost.extend(i for i in ids if i not in kept)
            items = [item for item in items if item.clinic_id in kept]
        self.renewed_at = started
        return items

    def _locked(self, items: list[_Item]) -> dict[str, Provisioning]:
        """Lock the rows whose lease is still ours (in a transaction): the fence."""
        rows = (
            Provisioning.objects.select_for_update()
            .filter(clinic_id__in=[item.clinic_id for item in items], lease_owner=self.owner)
            .only("id", "clinic_id", "generation", "attempts")
            .order_by("clinic_id")
        )
        found = {str(prov.clinic_id): prov for prov in rows}
        self.result.lost.extend(item.clinic_id for item in items if item.clinic_id not in found)
        return found

    # --- planning -------------------------------------------------------------------------

    def _sort(self, held: dict[str, Provisioning]) -> list[_Item]:
        """The clinics whose next action is a create; the others are left or handed over."""
        desired = load_desired_many(held)
        items: list[_Item] = []
        for clinic_id, prov in held.items():
            want = desired.get(clinic_id)
            if want is None or prov.state == State.FAILED or settled(prov):
                # As reconcile_clinic: a failed clinic waits for Retry or a change.
                self.result.noop.append(clinic_id)
                continue
            action = _next_create(want, prov) if not prov.converged else None
            if isinstance(action, Action):
                items.append(_Item(clinic_id, want, prov, action))
            else:
                self.result.handed_over.append(clinic_id)
        if items and auth_blocked():
            # reconcile_clinic records the open circuit on each clinic, as for any run.
            self.result.handed_over.extend(item.clinic_id for item in items)
            return []
        return items

    def _intent(self, writes: Writes, item: _Item, row: Provisioning, now: Any) -> None:
        """The next create's intent (and the working state), in this commit."""
        kind = BY_NAME[item.action.kind]
        working = State.PROVISIONING if item.desired.trunk_wanted else State.DEPROVISIONING
        fields = {**kind.intent(item.action.spec, now), "state": working}
        writes.set(row, **fields, lease_until=now + self.lease, updated_at=now)
        _remember(item, fields)

    # --- calls ----------------------------------------------------------------------------

    def run(self, items: list[_Item]) -> None:
        """Make the creates, wave after wave, recording each wave in one commit."""
        limit = settings.PROVISIONING_BATCH_IN_FLIGHT

        def start(item: _Item, by: float) -> PendingCall[Any]:
            kind = BY_NAME[item.action.kind]
            return kind.start_create(self.gw, item.action.spec, in_flight=limit, not_after=by)

        while items:
            items = self._record(items, self._calls(items, start))

    def _calls(
        self, items: list[_Item], start: Callable[[_Item, float], PendingCall[Any]]
    ) -> dict[str, Outcome]:
        """Make one call per clinic, up to the process's slots at once, each starting
        within its lease's renewal window. A call that could not start in time is tried
        again after renewing the leases; one the local rate limiter refused (nothing was
        sent) once the limiter allows it, if within the window. Calls still waiting when
        the batch runs out of time are deferred: never sent, left to reconcile_clinic."""
        outcomes: dict[str, Outcome] = {}
        pending = list(items)
        while pending:
            if time.monotonic() > self.stop_at:
                outcomes.update((item.clinic_id, DEFERRED) for item in pending)
                break
            if time.monotonic() - self.renewed_at > self.window / 2:
                pending = self._renew(pending)
            deadline = min(self.renewed_at + self.window, self.stop_at)
            pending, wait = wave(
                pending, start, deadline, outcomes, batch=self.number, window=self.window
            )
            if pending and wait:
                time.sleep(wait)
        return outcomes

    # --- recording ------------------------------------------------------------------------

    def _record(self, items: list[_Item], outcomes: dict[str, Outcome]) -> list[_Item]:
        """One commit: each wave's outcomes, then each clinic's next create or convergence."""
        now = db_now()
        started = time.monotonic()
        going: list[_Item] = []
        with transaction.atomic():
            writes = Writes()
            rows = self._locked(items)
            for item in (item for item in items if item.clinic_id in rows):
                row, outcome = rows[item.clinic_id], outcomes[item.clinic_id]
                if outcome.deferred:
                    self._deferred(item, row, writes, now)
                elif outcome.error is not None:
                    self._failed(item, row, outcome, writes, now)
                elif self._created(item, row, outcome, writes, now):
                    going.append(item)
            writes.save()
        self.renewed_at = started
        return going

    def _created(
        self, item: _Item, row: Provisioning, outcome: Outcome, writes: Writes, now: Any
    ) -> bool:
        """Record a create and plan the clinic again: True when another create follows."""
        kind, spec = BY_NAME[item.action.kind], item.action.spec
        object_id = kind.object_id(outcome.value)
        fields = {**kind.stored(object_id, spec_hash(spec)), **kind.no_intent()}
        writes.set(row, **fields, lease_until=now + self.lease, updated_at=now)
        _remember(item, fields)
        detail = kind.created_detail(outcome.value, spec)
        writes.event(
            item.clinic_id, item.desired.generation, f"create_{kind.name}", outcome, detail
        )
        following = _next_create(item.desired, item.prov)
        if isinstance(following, Action):
            item.action = following
            self._intent(writes, item, row, now)
            return True
        if following is None or row.generation != item.desired.generation:
            # More than creates to do, or changed while the batch ran: reconcile_clinic.
            self.result.handed_over.append(item.clinic_id)
            return False
        final = State.ACTIVE if item.desired.trunk_wanted else State.DEPROVISIONED
        writes.set(row, **converged_fields(item.desired.generation, final, now))
        writes.event(item.clinic_id, item.desired.generation, "converged", None, f"state {final}")
        self.result.converged.append(item.clinic_id)
        return False

    def _deferred(self, item: _Item, row: Provisioning, writes: Writes, now: Any) -> None:
        """Never sent: withdraw the intent and let reconcile_clinic take the clinic on."""
        writes.set(row, **BY_NAME[item.action.kind].no_intent(), updated_at=now)
        self.result.handed_over.append(item.clinic_id)

    def _failed(
        self, item: _Item, row: Provisioning, outcome: Outcome, writes: Writes, now: Any
    ) -> None:
        """Record a failed create as the one-clinic executor would, or hand the clinic over."""
        exc = outcome.error
        assert exc is not None
        action = f"create_{item.action.kind}"
        writes.event(item.clinic_id, item.desired.generation, action, outcome, exc.sentence)
        if isinstance(exc, (LiveKitRejectedError, LiveKitNotFoundError)):
            # Which holder refused it is the planner's question, after an observation: the
            # intent stays, so the one-clinic executor observes before anything else.
            self.result.handed_over.append(item.clinic_id)
            return
        self.circuit.note(exc)
        fields, result = failed(item.clinic_id, row.attempts + 1, exc)
        if exc.code == LOCAL_RATE_LIMIT:
            # Refused before sending: no create happened, so no intent to observe later.
            fields.update(BY_NAME[item.action.kind].no_intent())
        writes.set(row, **fields, updated_at=now)
        if result.retry_in is not None:
            self.result.retry[item.clinic_id] = result.retry_in
        else:
            self.result.failed.append(item.clinic_id)


def _remember(item: _Item, fields: dict[str, Any]) -> None:
    for name, value in fields.items():
        setattr(item.prov, name, value)


def reconcile_batch(
    clinic_ids: Iterable[Any],
    *,
    gateway: LiveKitGateway | None = None,
    owner: str | None = None,
) -> BatchResult:
    """One batch run. Never raises LiveKit errors: they become state and the result."""
    ids = sorted({str(clinic_id) for clinic_id in clinic_ids})
    batch = _Batch(gateway or get_gateway(), owner or uuid.uuid4().hex)
    try:
        items = batch.begin(ids)
        if items:
            batch.run(items)
    finally:
        batch.release(ids)
    logger.info("reconcile batch of %d: %s", len(ids), batch.result.counts())
    return batch.result
