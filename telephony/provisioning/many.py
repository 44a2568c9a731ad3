"""The executor over many clinics at once, with calls in flight (decisions/0010, 0046).

When one transaction takes many clinics live (an import, a staff bulk action), one run of
the executor per clinic costs about 30 queries, 6 commits and one Celery task each; on a
small machine that CPU, not LiveKit, bounds how fast they go live. Here each clinic of the
set is the same `ClinicExecutor` (the same plan, the same steps and fields and events,
the same failure handling), with two differences of plumbing only: its writes go into one
commit per wave for the whole set, fenced by `Leases` (fence.py), and its creates are
started concurrently through the process's in-flight slots (slots.py):

1. take every clinic's lease, read the desired state in three queries, plan each clinic,
   and commit the create intent of every clinic whose next action is a create (one commit);
2. make those creates, at most PROVISIONING_BATCH_IN_FLIGHT per worker process, each
   within its lease's renewal window;
3. in one commit: record every outcome as the executor does (`created`, `call_failed`,
   `record_failure`), plan each clinic again, and write the next create's intent or the
   convergence; repeat from 2 while creates remain.

A clinic whose next action is not a create (an observation, an update, a delete, an
adoption, a conflict), that upstream refused, or that changed while the batch ran goes on
as a one-clinic run of the same executor (its own task); transient failures are retried
by that task after the backoff.
"""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction

from telephony.livekit_gateway import (
    LiveKitGateway,
    LiveKitNotFoundError,
    LiveKitRejectedError,
    PendingCall,
)
from telephony.models import LineRule, Provisioning
from telephony.provisioning import actions as A
from telephony.provisioning.actions import Action
from telephony.provisioning.bulk import Writes
from telephony.provisioning.carrier_kind import after_convergence
from telephony.provisioning.circuit import auth_blocked
from telephony.provisioning.desired import DesiredState, load_desired_many
from telephony.provisioning.executor import ClinicExecutor
from telephony.provisioning.fence import Leases, event_row
from telephony.provisioning.kinds import BY_NAME
from telephony.provisioning.lease import db_now, lease_length
from telephony.provisioning.outcome import Circuit, convergence
from telephony.provisioning.slots import DEFERRED, Outcome, batch_numbers, wave
from telephony.upstream import project_name

# What planning a clinic reads of its row.
RECORD_FIELDS = (
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
    "carrier_trunk_id",
    "carrier_applied_hash",
    "carrier_intent",
    "lease_owner",
    "lease_until",
)


@dataclass
class BatchResult:
    """What a batch did with each clinic (ids as text)."""

    converged: list[str] = field(default_factory=list)
    noop: list[str] = field(default_factory=list)
    # Off the batch's path: a one-clinic run must follow for these now.
    handed_over: list[str] = field(default_factory=list)
    # Failed transiently: a one-clinic run after this many seconds.
    retry: dict[str, float] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)
    # Another run held the lease when the batch started: try again after it ends.
    busy: dict[str, float] = field(default_factory=dict)
    # Lost the lease to another run during the batch: that run owns the clinic now.
    lost: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in self.__dataclass_fields__}


@dataclass
class Commit:
    """One commit of a batch: its writes, the database's now, the leases' new expiry."""

    writes: Writes
    now: datetime

    @property
    def expiry(self) -> datetime:
        return self.now + lease_length()


class BatchedClinic(ClinicExecutor):
    """One clinic of a batch: the executor, writing into the batch's current commit.

    The fence is the commit's (`Leases.locked`: the row is locked and still ours), so a
    write here is a field set on that row and an event appended, saved with the others."""

    def __init__(
        self,
        clinic_id: str,
        gateway: LiveKitGateway,
        owner: str,
        prov: Provisioning,
        at: Commit,
        lines: dict[str, LineRule],
    ) -> None:
        super().__init__(clinic_id, gateway, owner, prov=prov, lines=lines)
        self.commit, self.row = at, prov
        self.outcome = Outcome()  # the last call's, for its event
        self.desired: DesiredState | None = None
        self.action: Action | None = None  # the create in flight

    def enter(self, at: Commit, row: Provisioning) -> None:
        self.commit, self.row = at, row

    def now(self) -> Any:
        return self.commit.now

    def together(self) -> contextlib.AbstractContextManager[Any]:
        return contextlib.nullcontext()  # the whole commit is one transaction

    def save(self, **fields: Any) -> None:
        fields = {**self.pending, **fields}
        self.pending = {}
        at = self.commit
        at.writes.set(self.row, **fields, lease_until=at.expiry, updated_at=at.now)
        self.remember(fields)

    def store_line(self, key: str, fields: dict[str, Any]) -> None:
        # A line's create is never batched (`ManyExecutor._advance`): its clinic goes on as
        # a one-clinic run, which writes its LineRule row.
        raise AssertionError("a batch writes no line records")

    def insert_event(self, action: str, outcome: str, detail: str, **kw: Any) -> None:
        row = event_row(self.clinic_id, self.generation, action, outcome, detail, **kw)
        self.commit.writes.events.append(row)

    def _timing(self) -> dict[str, Any]:
        return {"duration_ms": self.outcome.duration_ms, "request_id": self.outcome.request_id}

    def converge(self, desired: DesiredState) -> bool:
        if self.row.generation != desired.generation:
            return False  # changed while the batch ran: a one-clinic run goes on
        fields, detail = convergence(desired, self.now())
        self.commit.writes.set(self.row, **fields)
        self.insert_event("converged", "ok", detail)
        after_convergence(desired, self.prov)
        self.pending = {}
        return True


def budget_seconds() -> float:
    """How long a batch may keep starting calls. Calls not started by then are left to a
    one-clinic run, well before a task time limit (prefork enforces one) could interrupt
    the batch."""
    limit = settings.CELERY_TASK_SOFT_TIME_LIMIT
    return limit / 2 if limit else float("inf")


class ManyExecutor:
    def __init__(self, gateway: LiveKitGateway, owner: str) -> None:
        self.gw = gateway
        self.owner = owner
        self.leases = Leases(owner)
        self.result = BatchResult()
        self.circuit = Circuit(project_name(gateway))
        self.stop_at = time.monotonic() + budget_seconds()
        self.number = next(batch_numbers)  # older batches get call slots first

    def begin(self, ids: list[str]) -> list[BatchedClinic]:
        """One transaction: take every free lease, read and plan, and commit the intents of
        the clinics whose next action is a create; free the others' leases."""
        with transaction.atomic():
            at = Commit(Writes(), db_now())
            held, busy = self.leases.take(ids, RECORD_FIELDS, at.now)
            self.result.busy.update(busy)
            self.result.noop.extend(i for i in ids if i not in held and i not in busy)
            clinics = [c for c in self._started(held, at) if self._advance(c)]
            at.writes.save()
            going = {c.clinic_id for c in clinics}
            self.leases.release([i for i in held if i not in going])
        return clinics

    def _started(self, held: dict[str, Provisioning], at: Commit) -> list[BatchedClinic]:
        """Each held clinic's executor, begun on its desired state; the idle ones left."""
        desired = load_desired_many(held)
        lines: dict[str, dict[str, LineRule]] = defaultdict(dict)
        for row in LineRule.objects.filter(clinic_id__in=list(held)):
            lines[str(row.clinic_id)][row.line] = row
        clinics: list[BatchedClinic] = []
        for clinic_id, prov in held.items():
            clinic = BatchedClinic(clinic_id, self.gw, self.owner, prov, at, lines[clinic_id])
            want = desired.get(clinic_id)
            if want is None or clinic.idle() is not None:
                self.result.noop.append(clinic_id)
                continue
            clinic.desired = want
            clinic.begin(want)
            clinics.append(clinic)
        if clinics and auth_blocked(project_name(self.gw)):
            # The one-clinic run records the open circuit on each clinic, as for any run.
            self.result.handed_over.extend(c.clinic_id for c in clinics)
            return []
        return clinics

    def _advance(self, clinic: BatchedClinic) -> bool:
        """Plan the clinic again: True when its next action is the create of a kind's ""
        instance (intent written); else it converges, or goes on as a one-clinic run (a
        line's rule is created there: its record is a LineRule row, decision 0085)."""
        assert clinic.desired is not None
        actions = clinic.plan(clinic.desired)
        create = actions[0] if actions and actions[0].op == A.CREATE else None
        if create is not None and not create.key and BY_NAME[create.kind].concurrent:
            clinic.action = actions[0]
            clinic.intend(BY_NAME[clinic.action.kind], clinic.action)
            return True
        if not actions and clinic.converge(clinic.desired):
            self.result.converged.append(clinic.clinic_id)
        else:
            self.result.handed_over.append(clinic.clinic_id)
        return False

    # --- calls ----------------------------------------------------------------------------

    def run(self, clinics: list[BatchedClinic]) -> None:
        """Make the creates, wave after wave, recording each wave in one commit."""
        while clinics:
            clinics = self._record(clinics, self._calls(clinics))

    def _calls(self, clinics: list[BatchedClinic]) -> dict[str, Outcome]:
        """Make one call per clinic, up to the process's slots at once, each starting
        within its lease's renewal window. A call that could not start in time is tried
        again after renewing the leases; one the local rate limiter refused (nothing was
        sent) once the limiter allows it, if within the window. Calls still waiting when
        the batch runs out of time are deferred: never sent, left to a one-clinic run."""
        limit = settings.PROVISIONING_BATCH_IN_FLIGHT

        def start(clinic: BatchedClinic, by: float) -> PendingCall[Any]:
            a = clinic.action
            assert a is not None
            return BY_NAME[a.kind].start_create(self.gw, a.spec, in_flight=limit, not_after=by)

        outcomes: dict[str, Outcome] = {}
        pending = list(clinics)
        while pending:
            if time.monotonic() > self.stop_at:
                outcomes.update((c.clinic_id, DEFERRED) for c in pending)
                break
            if self.leases.due():
                kept = self.leases.renew([c.clinic_id for c in pending])
                self.result.lost.extend(c.clinic_id for c in pending if c.clinic_id not in kept)
                pending = [c for c in pending if c.clinic_id in kept]
            deadline = min(self.leases.deadline(), self.stop_at)
            pending, wait = wave(
                pending, start, deadline, outcomes, batch=self.number, window=self.leases.window
            )
            if pending and wait:
                time.sleep(wait)
        return outcomes

    # --- recording ------------------------------------------------------------------------

    def _record(
        self, clinics: list[BatchedClinic], outcomes: dict[str, Outcome]
    ) -> list[BatchedClinic]:
        """One commit: each call's outcome, then each clinic's next create or convergence."""
        started = time.monotonic()
        going: list[BatchedClinic] = []
        with transaction.atomic():
            at = Commit(Writes(), db_now())
            rows = self.leases.locked([c.clinic_id for c in clinics if c.clinic_id in outcomes])
            for clinic in clinics:
                if clinic.clinic_id not in outcomes:
                    continue  # lost before its call: another run owns it
                if clinic.clinic_id not in rows:
                    self.result.lost.append(clinic.clinic_id)
                    continue
                clinic.enter(at, rows[clinic.clinic_id])
                if self._recorded(clinic, outcomes[clinic.clinic_id]):
                    going.append(clinic)
            at.writes.save()
        self.leases.renewed(started)
        return going

    def _recorded(self, clinic: BatchedClinic, outcome: Outcome) -> bool:
        """Record one create's outcome as the executor does; True: another create follows."""
        a = clinic.action
        assert a is not None
        kind = BY_NAME[a.kind]
        if outcome.deferred:
            clinic.keep(a.key, kind.no_intent(a.key))  # never sent: nothing to observe later
            self.result.handed_over.append(clinic.clinic_id)
            return False
        clinic.outcome = outcome
        exc = outcome.error
        if exc is None:
            clinic.created(kind, a, outcome.value)
            return self._advance(clinic)
        clinic.call_failed(f"create_{kind.name}", exc, outcome.duration_ms, outcome.request_id)
        if isinstance(exc, (LiveKitRejectedError, LiveKitNotFoundError)):
            # Which holder refused it is the planner's question, after an observation: the
            # intent stays, so the one-clinic run observes before anything else.
            self.result.handed_over.append(clinic.clinic_id)
            return False
        clinic.not_sent(kind, a, exc)
        row = clinic.row
        result = clinic.record_failure(
            exc, row.attempts + 1, self.circuit, row.rate_limited_runs + 1
        )
        if result.retry_in is not None:
            self.result.retry[clinic.clinic_id] = result.retry_in
        else:
            self.result.failed.append(clinic.clinic_id)
        return False


def run_many(clinic_ids: Iterable[Any], *, gateway: LiveKitGateway, owner: str) -> BatchResult:
    """One batch run. Never raises upstream errors: they become state and the result."""
    ids = sorted({str(clinic_id) for clinic_id in clinic_ids})
    many = ManyExecutor(gateway, owner)
    try:
        clinics = many.begin(ids)
        if clinics:
            many.run(clinics)
    finally:
        many.leases.release(ids)
    return many.result
