"""reconcile_batch: take many new clinics live at once, with reconcile_clinic's guarantees.

When one transaction takes many clinics live (an import, a staff bulk action), running
reconcile_clinic for each costs about 30 queries, 6 commits and one Celery task per clinic;
on a small machine that CPU, not LiveKit, bounds how fast they go live. This path does the
common case, a clinic with nothing in LiveKit yet, for a whole batch at a time:

1. take every clinic's lease, read the desired state in three queries and write every
   clinic's trunk create intent (one commit);
2. create the trunks concurrently: at most PROVISIONING_BATCH_IN_FLIGHT calls in flight per
   worker process, on the gateway's loop, each through the same rate limiter and error
   classification as a single call;
3. commit the trunks, their events and every rule's create intent (one commit);
4. create the rules concurrently;
5. commit the rules, mark the clinics converged and release their leases (one commit).

Each clinic keeps what reconcile_clinic guarantees (design.md §5, decisions/0003, 0006):
its lease is held throughout and every write is fenced on it (the rows are locked and their
owner checked); a create intent is committed before its create; a call starts only within
the lease's renewal window, otherwise the batch renews the leases first; each outcome is
committed before the clinic's next call. Everything off the common path goes to
reconcile_clinic, which owns adoption, conflicts, updates and deletes: a clinic that already
has LiveKit objects or intents, is not going live, hit a conflict or a missing object, or
changed while the batch ran. Transient failures are recorded as reconcile_clinic records
them and retried by a per-clinic task after the backoff (decisions/0010).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import os
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from telephony.livekit_gateway import (
    LOCAL_RATE_LIMIT,
    LiveKitAuthError,
    LiveKitError,
    LiveKitGateway,
    LiveKitNotFoundError,
    LiveKitNotSent,
    LiveKitRejectedError,
    PendingCall,
    RuleSpec,
    TrunkSpec,
    get_gateway,
)
from telephony.models import Provisioning, ProvisioningEvent
from telephony.provisioning.circuit import auth_blocked, open_circuit
from telephony.provisioning.desired import DesiredState, load_desired_many, spec_hash
from telephony.provisioning.lease import db_now, free_or_mine, lease_expiry, renew_window_seconds
from telephony.provisioning.outcome import failure_fields

logger = logging.getLogger(__name__)

State = Provisioning.State
# What sorting a clinic onto the batch's path or off it reads.
_SORTING_FIELDS = (
    "id",
    "clinic_id",
    "state",
    "generation",
    "observed_generation",
    "trunk_id",
    "trunk_intent",
    "dispatch_rule_id",
    "rule_intent",
    "lease_owner",
    "lease_until",
)


@dataclass
class BatchResult:
    """What a batch did with each clinic (ids as text)."""

    converged: list[str] = field(default_factory=list)
    noop: list[str] = field(default_factory=list)
    # Off the common path: reconcile_clinic must run for these now.
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
    clinic_id: str
    desired: DesiredState
    trunk: TrunkSpec
    rule: RuleSpec | None = None


@dataclass(frozen=True)
class _Outcome:
    value: Any = None
    error: LiveKitError | None = None
    duration_ms: int = 0
    request_id: str = ""
    deferred: bool = False  # never sent: the batch ran out of time for it


DEFERRED = _Outcome(deferred=True)


# --- calls in flight ----------------------------------------------------------------------


class _Slots:
    """The process's batch calls in flight: at most `size`, shared by every batch the
    process runs, granted oldest batch first.

    First come, first served would keep every batch of a bulk go-live in step: all of them
    would finish their trunk creates together and record them together, while nothing is
    in flight. Oldest first lets a batch finish (record its trunks, create its rules) while
    the younger ones are still calling, so the calls and the database work overlap, and the
    first clinics go live early instead of all at the end.
    """

    def __init__(self, size: int) -> None:
        self.free = size
        # Waiters, oldest batch first: (batch, ticket, event); a freed slot is handed to the
        # first of them directly (one wake-up per slot, not one per waiter).
        self._waiting: list[tuple[int, int, threading.Event]] = []
        self._granted: set[int] = set()
        self._tickets = itertools.count()
        self._lock = threading.Lock()

    def take(self, batch: int, deadline: float) -> bool:
        """A slot for a call of `batch` that must start by `deadline` (False: too late)."""
        with self._lock:
            if self.free and not self._waiting:
                if time.monotonic() > deadline:
                    return False
                self.free -= 1
                return True
            ticket, event = next(self._tickets), threading.Event()
            heapq.heappush(self._waiting, (batch, ticket, event))
        event.wait(max(0.0, deadline - time.monotonic()))
        with self._lock:
            if ticket in self._granted:
                self._granted.discard(ticket)
                if time.monotonic() <= deadline:
                    return True
                self._hand_on()  # granted too late: pass the slot on
                return False
            self._waiting = [w for w in self._waiting if w[1] != ticket]
            heapq.heapify(self._waiting)
            return False

    def release(self) -> None:
        with self._lock:
            self._hand_on()

    def _hand_on(self) -> None:
        if self._waiting:
            _batch, ticket, event = heapq.heappop(self._waiting)
            self._granted.add(ticket)
            event.set()
        else:
            self.free += 1


_slots: _Slots | None = None
_slots_key: tuple[int, int] = (0, 0)
_slots_lock = threading.Lock()
_batch_numbers = itertools.count()


def _call_slots() -> _Slots:
    """Calls started and not yet ended: the ones in flight, plus a few waiting on the
    gateway's loop for their turn, so that a finished call's turn passes on at once
    instead of after a round trip through this thread."""
    global _slots, _slots_key
    key = (os.getpid(), settings.PROVISIONING_BATCH_IN_FLIGHT)
    with _slots_lock:
        if _slots is None or _slots_key != key:
            _slots = _Slots(key[1] + max(1, key[1] // 2))
            _slots_key = key
        return _slots


def _forget_slots_in_child() -> None:
    # Calls in flight in the parent are not the child's, and the lock may be held.
    global _slots, _slots_lock
    _slots_lock = threading.Lock()
    _slots = None


os.register_at_fork(after_in_child=_forget_slots_in_child)


def _settle(started: list[tuple[_Item, PendingCall[Any]]]) -> None:
    """Wait for calls already started (a bug is propagating: no call may outlive the
    leases, which are released next)."""
    for _item, call in started:
        with contextlib.suppress(BaseException):
            call.result()


# --- the batch ----------------------------------------------------------------------------


def budget_seconds() -> float:
    """How long a batch may keep starting calls. Calls not started by then are left to
    reconcile_clinic, well before a task time limit (prefork enforces one) could interrupt
    the batch."""
    limit = settings.CELERY_TASK_SOFT_TIME_LIMIT
    return limit / 2 if limit else float("inf")


def _is_fresh(prov: Provisioning, desired: DesiredState) -> bool:
    """Going live with nothing in LiveKit and nothing half-done: the batch's common path."""
    return (
        desired.rule_wanted
        and not prov.converged
        and prov.state != State.FAILED
        and not (prov.trunk_id or prov.trunk_intent or prov.dispatch_rule_id or prov.rule_intent)
    )


class _Batch:
    def __init__(self, gateway: LiveKitGateway, owner: str) -> None:
        self.gw = gateway
        self.owner = owner
        self.window = renew_window_seconds()
        self.lease = timedelta(seconds=settings.PROVISIONING_LEASE_SECONDS)
        self.renewed_at = -float("inf")
        self.result = BatchResult()
        self._circuit_opened = False
        self.stop_at = time.monotonic() + budget_seconds()
        self.number = next(_batch_numbers)  # older batches get call slots first

    # --- leases ---------------------------------------------------------------------------

    def begin(self, ids: list[str]) -> list[_Item]:
        """One transaction: take every free lease, read the desired state, sort the clinics,
        and commit the trunk create intents of the ones on the common path."""
        started = time.monotonic()
        with transaction.atomic():
            now = db_now()  # leases are on the database's clock (lease.py)
            Provisioning.objects.filter(clinic_id__in=ids).filter(free_or_mine(self.owner)).update(
                lease_owner=self.owner, lease_until=lease_expiry()
            )
            held: dict[str, Provisioning] = {}
            for prov in Provisioning.objects.filter(clinic_id__in=ids).only(*_SORTING_FIELDS):
                clinic_id = str(prov.clinic_id)
                if prov.lease_owner == self.owner:
                    held[clinic_id] = prov
                else:
                    left = (prov.lease_until - now).total_seconds() if prov.lease_until else 0.0
                    jitter = random.uniform(0.1, 1.0)  # noqa: S311 (jitter, not cryptography)
                    self.result.busy[clinic_id] = max(0.0, left) + jitter
            self.result.noop.extend(i for i in ids if i not in held and i not in self.result.busy)
            items = self._sort(held) if held else []
            if items:
                self._write_trunk_intents(items, [held[item.clinic_id] for item in items], now)
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

    # --- the run --------------------------------------------------------------------------

    def _sort(self, held: dict[str, Provisioning]) -> list[_Item]:
        """The clinics on the common path; the others are left or handed over."""
        desired = load_desired_many(held)
        items: list[_Item] = []
        for clinic_id, prov in held.items():
            want = desired.get(clinic_id)
            settled = prov.converged and prov.state in (
                State.ACTIVE,
                State.DEPROVISIONED,
                State.NEW,
            )
            if want is None or prov.state == State.FAILED or settled:
                # As reconcile_clinic: a failed clinic waits for Retry or a change.
                self.result.noop.append(clinic_id)
            elif _is_fresh(prov, want):
                items.append(_Item(clinic_id, want, want.trunk()))
            else:
                self.result.handed_over.append(clinic_id)
        if items and auth_blocked():
            # reconcile_clinic records the open circuit on each clinic, as for any run.
            self.result.handed_over.extend(item.clinic_id for item in items)
            return []
        return items

    def create(self, items: list[_Item]) -> None:
        """Create the trunks, then the rules, recording each wave in one commit."""
        limit = settings.PROVISIONING_BATCH_IN_FLIGHT
        outcomes = self._calls(
            items,
            lambda item, by: self.gw.start_create_inbound_trunk(
                item.trunk, in_flight=limit, not_after=by
            ),
        )
        items = self._record_trunks(items, outcomes)
        outcomes = self._calls(
            items,
            lambda item, by: self.gw.start_create_dispatch_rule(
                item.rule,  # type: ignore[arg-type]
                in_flight=limit,
                not_after=by,
            ),
        )
        self._record_rules(items, outcomes)

    def _calls(
        self, items: list[_Item], start: Callable[[_Item, float], PendingCall[Any]]
    ) -> dict[str, _Outcome]:
        """Make one call per clinic, up to the process's slots at once, each starting
        within its lease's renewal window.

        A call that could not start in time is tried again after renewing the leases; a
        call the local rate limiter refused (nothing was sent) is tried again once the
        limiter allows it, if that is within the window. Calls still waiting when the batch
        runs out of time are deferred: never sent, left to reconcile_clinic.
        """
        slots = _call_slots()
        outcomes: dict[str, _Outcome] = {}
        pending = list(items)
        while pending:
            if time.monotonic() > self.stop_at:
                outcomes.update((item.clinic_id, DEFERRED) for item in pending)
                break
            if time.monotonic() - self.renewed_at > self.window / 2:
                pending = self._renew(pending)
            deadline = min(self.renewed_at + self.window, self.stop_at)
            started: list[tuple[_Item, PendingCall[Any]]] = []
            later: list[_Item] = []
            try:
                for item in pending:
                    if not slots.take(self.number, deadline):
                        later.append(item)
                        continue
                    try:
                        call = start(item, deadline)
                    except BaseException:
                        slots.release()
                        raise
                    call.on_done(slots.release)
                    started.append((item, call))
            except BaseException:
                _settle(started)
                raise
            wait = 0.0
            for item, call in started:
                try:
                    value = call.result()
                except LiveKitNotSent:
                    later.append(item)  # its turn came too late: renew, then try again
                    continue
                except LiveKitError as exc:
                    refused = exc.code == LOCAL_RATE_LIMIT
                    if refused and (exc.retry_after or 0.0) <= self.window / 2:
                        later.append(item)
                        wait = max(wait, exc.retry_after or 0.0)
                        continue
                    outcomes[item.clinic_id] = _Outcome(
                        error=exc,
                        duration_ms=call.duration_ms,
                        request_id=exc.request_id or call.request_id,
                    )
                    continue
                outcomes[item.clinic_id] = _Outcome(
                    value=value, duration_ms=call.duration_ms, request_id=call.request_id
                )
            pending = later
            if pending and wait:
                time.sleep(wait)
        return outcomes

    def _write_trunk_intents(self, items: list[_Item], rows: list[Provisioning], now: Any) -> None:
        for item, prov in zip(items, rows, strict=True):
            prov.state = State.PROVISIONING
            prov.trunk_intent = uuid.uuid4()
            prov.trunk_intent_numbers = list(item.trunk.numbers)
            prov.trunk_intent_at = now
            prov.lease_until = now + self.lease
            prov.updated_at = now
        _update_rows(
            rows,
            [
                "state",
                "trunk_intent",
                "trunk_intent_numbers",
                "trunk_intent_at",
                "lease_until",
                "updated_at",
            ],
        )

    def _record_trunks(self, items: list[_Item], outcomes: dict[str, _Outcome]) -> list[_Item]:
        """Commit the trunks and their events, and the rule intents of the clinics going on."""
        now = db_now()
        started = time.monotonic()
        going: list[_Item] = []
        with transaction.atomic():
            writes = _Writes()
            for item, prov, outcome in self._succeeded(items, outcomes, "create_trunk", writes):
                trunk = outcome.value
                item.rule = item.desired.rule(trunk.trunk_id)
                writes.set(
                    prov,
                    trunk_id=trunk.trunk_id,
                    trunk_applied_hash=spec_hash(item.trunk),
                    trunk_intent=None,
                    trunk_intent_numbers=[],
                    trunk_intent_at=None,
                    rule_intent=uuid.uuid4(),
                    rule_intent_at=now,
                    lease_until=now + self.lease,
                    updated_at=now,
                )
                detail = f"{trunk.trunk_id} with {', '.join(item.trunk.numbers)}"
                writes.event(item, "create_trunk", outcome, detail)
                going.append(item)
            writes.save()
        self.renewed_at = started
        return going

    def _record_rules(self, items: list[_Item], outcomes: dict[str, _Outcome]) -> None:
        """Commit the rules; clinics whose generation did not move are converged."""
        now = db_now()
        with transaction.atomic():
            writes = _Writes()
            for item, prov, outcome in self._succeeded(items, outcomes, "create_rule", writes):
                rule, spec = outcome.value, item.rule
                assert spec is not None
                writes.set(
                    prov,
                    dispatch_rule_id=rule.rule_id,
                    rule_applied_hash=spec_hash(spec),
                    rule_intent=None,
                    rule_intent_at=None,
                    lease_until=now + self.lease,
                    updated_at=now,
                )
                detail = f"{rule.rule_id} prefix {spec.room_prefix}"
                writes.event(item, "create_rule", outcome, detail)
                if prov.generation != item.desired.generation:
                    # Changed while the batch ran: reconcile_clinic applies the change.
                    self.result.handed_over.append(item.clinic_id)
                    continue
                writes.set(
                    prov,
                    observed_generation=item.desired.generation,
                    state=State.ACTIVE,
                    attempts=0,
                    last_error="",
                    last_error_code="",
                    next_attempt_at=None,
                    converged_at=now,
                    last_synced_at=now,
                    lease_owner="",
                    lease_until=None,
                )
                writes.event(item, "converged", None, f"state {State.ACTIVE}")
                self.result.converged.append(item.clinic_id)
            writes.save()

    def _succeeded(
        self, items: list[_Item], outcomes: dict[str, _Outcome], action: str, writes: _Writes
    ) -> Iterator[tuple[_Item, Provisioning, _Outcome]]:
        """Lock the rows still ours (in the caller's transaction), record the deferred and
        failed calls of `action`, and yield the clinics whose call succeeded."""
        rows = self._locked(items)
        for item in (item for item in items if item.clinic_id in rows):
            prov, outcome = rows[item.clinic_id], outcomes[item.clinic_id]
            if outcome.deferred:
                self._deferred(item, prov, action, writes)
            elif outcome.error is not None:
                self._failed(item, prov, outcome, action, writes)
            else:
                yield item, prov, outcome

    def _deferred(self, item: _Item, prov: Provisioning, action: str, writes: _Writes) -> None:
        """Never sent: withdraw the intent and let reconcile_clinic take the clinic on."""
        writes.set(prov, **_no_intent(action), updated_at=timezone.now())
        self.result.handed_over.append(item.clinic_id)

    def _failed(
        self, item: _Item, prov: Provisioning, outcome: _Outcome, action: str, writes: _Writes
    ) -> None:
        """Record a failed create the way reconcile_clinic would, or hand the clinic over."""
        exc = outcome.error
        assert exc is not None
        writes.event(item, action, outcome, exc.sentence)
        if isinstance(exc, (LiveKitRejectedError, LiveKitNotFoundError)):
            # Adopting our own object or naming the foreign one is reconcile_clinic's job;
            # the intent stays so that it observes LiveKit first.
            self.result.handed_over.append(item.clinic_id)
            return
        auth = isinstance(exc, LiveKitAuthError) and exc.code != "circuit_open"
        if auth and not self._circuit_opened:
            self._circuit_opened = True
            open_circuit(exc.sentence)
        fields, result = failure_fields(prov.attempts + 1, exc)
        if exc.code == LOCAL_RATE_LIMIT:
            # Refused before sending: no create happened, so no intent to observe later.
            fields.update(_no_intent(action))
        writes.set(prov, **fields, updated_at=timezone.now())
        if result.retry_in is not None:
            self.result.retry[item.clinic_id] = result.retry_in
        else:
            self.result.failed.append(item.clinic_id)
        logger.info("reconcile %s: %s (%s)", item.clinic_id, result.outcome, exc.sentence)


def _no_intent(action: str) -> dict[str, Any]:
    if action == "create_trunk":
        return {"trunk_intent": None, "trunk_intent_numbers": [], "trunk_intent_at": None}
    return {"rule_intent": None, "rule_intent_at": None}


class _Writes:
    """The rows and events one commit of the batch writes (one UPDATE, one INSERT)."""

    def __init__(self) -> None:
        self.rows: dict[Any, Provisioning] = {}
        self.fields: set[str] = set()
        self.events: list[ProvisioningEvent] = []

    def set(self, prov: Provisioning, **fields: Any) -> None:
        for name, value in fields.items():
            setattr(prov, name, value)
        self.fields.update(fields)
        self.rows[prov.pk] = prov

    def event(self, item: _Item, action: str, outcome: _Outcome | None, detail: str) -> None:
        error = outcome is not None and outcome.error is not None
        self.events.append(
            ProvisioningEvent(
                clinic_id=item.clinic_id,
                generation=item.desired.generation,
                action=action,
                outcome=ProvisioningEvent.Outcome.ERROR if error else ProvisioningEvent.Outcome.OK,
                detail=detail[:2000],
                duration_ms=outcome.duration_ms if outcome else None,
                request_id=outcome.request_id if outcome else "",
            )
        )

    def save(self) -> None:
        if self.rows:
            _update_rows(list(self.rows.values()), sorted(self.fields))
        if self.events:
            ProvisioningEvent.objects.bulk_create(self.events)


def _update_rows(rows: list[Provisioning], names: list[str]) -> None:
    """Write these fields of these rows: one parametrised UPDATE, sent with executemany.

    QuerySet.bulk_update builds a CASE expression per field and row, which cost more CPU
    than everything else in a batch; the rows are locked by the caller's transaction.
    """
    conn = connections[Provisioning.objects.db]
    quote = conn.ops.quote_name
    wanted = set(names)
    fields = [f for f in Provisioning._meta.concrete_fields if f.name in wanted]
    pk = Provisioning._meta.pk
    assert pk is not None and len(fields) == len(wanted)
    sets = ", ".join(f"{quote(str(f.column))} = %s" for f in fields)
    table, key = quote(Provisioning._meta.db_table), quote(str(pk.column))
    # Identifiers from the model's metadata, quoted; every value is a parameter.
    sql = f"UPDATE {table} SET {sets} WHERE {key} = %s"  # noqa: S608
    params = [
        [f.get_db_prep_save(getattr(row, f.attname), conn) for f in fields]
        + [pk.get_db_prep_value(row.pk, conn)]
        for row in rows
    ]
    with conn.cursor() as cursor:
        cursor.executemany(sql, params)


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
            batch.create(items)
    finally:
        batch.release(ids)
    logger.info("reconcile batch of %d: %s", len(ids), batch.result.counts())
    return batch.result
