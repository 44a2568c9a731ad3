"""The executor: applies the planner's actions to a clinic (decisions/0011, 0046).

It plans, applies the actions in order, and plans again whenever it learns something the
plan could not know: after an observation, after a create (the new ID), after upstream
refused a write or no longer had the object. Every guarantee lives in `Fenced` (the lease,
fencing, events, the renewal window, the circuit) and in outcome.py (convergence,
failure classification, backoff); nothing here is specific to a kind of object.

A create is three steps (`intend`, the call, `created`) so that the batched path
(many.py) runs this same executor for each of many clinics, making the calls of a whole
wave concurrently in between and writing each step into the wave's one commit.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.utils import timezone

from telephony.livekit_gateway import (
    LOCAL_RATE_LIMIT,
    LiveKitConflictError,
    LiveKitError,
    LiveKitGateway,
    LiveKitNotFoundError,
    LiveKitPermanentError,
    LiveKitRejectedError,
    LiveKitTransientError,
)
from telephony.models import LineRule, PhoneNumber, Provisioning
from telephony.provisioning import actions as A
from telephony.provisioning.actions import Action, Observed
from telephony.provisioning.carrier_kind import after_convergence
from telephony.provisioning.desired import DesiredState, load_desired, spec_hash
from telephony.provisioning.fence import Fenced, LeaseLost
from telephony.provisioning.kinds import BY_NAME, Kind
from telephony.provisioning.lease import acquire_lease, lease_remaining, release_lease
from telephony.provisioning.outcome import (
    Circuit,
    Result,
    busy_delay,
    convergence,
    failed,
    settled,
    working_state,
)
from telephony.provisioning.planner import diff_fields, plan, records_of
from telephony.upstream import gateway_for_clinic, project_name

State = Provisioning.State
MAX_PLANS = 24


def observe(kind: Kind, action: Action, gw: Any, observed: Observed) -> None:
    """Read the fact an OBSERVE action asks for into `observed` (list calls only)."""
    if action.read == A.BY_ID:
        observed.calls.append(f"list {kind.name} by id {action.object_id}")
        found = kind.list_by_id(gw, action.object_id)
        observed.by_id[(kind.name, action.object_id)] = found[0] if found else None
    else:
        observed.calls.append(f"list {kind.name} holding {', '.join(action.keys)}")
        observed.holders[(kind.name, action.keys)] = tuple(kind.list_holders(gw, action.keys))


def _drop(observed: Observed, kind: Kind, object_id: str) -> None:
    """A deleted object: gone from what was read."""
    observed.by_id.pop((kind.name, object_id), None)
    for key, found in observed.holders.items():
        if key[0] == kind.name:
            observed.holders[key] = tuple(h for h in found if kind.object_id(h) != object_id)


class ClinicExecutor(Fenced):
    def __init__(
        self,
        clinic_id: Any,
        gateway: LiveKitGateway,
        owner: str,
        *,
        verify: bool = False,
        prov: Provisioning | None = None,
        lines: dict[str, LineRule] | None = None,
    ) -> None:
        super().__init__(clinic_id, gateway, owner)
        self.verify = verify
        self.observed = Observed()
        self.clients: dict[str, Any] = {}
        self.prov = prov if prov is not None else Provisioning.objects.get(clinic_id=clinic_id)
        if lines is None:
            lines = {r.line: r for r in LineRule.objects.filter(clinic_id=clinic_id)}
        self.lines = lines  # the lines' records, by key (decision 0085)

    def save(self, **fields: Any) -> None:
        super().save(**fields)
        self.remember(fields)

    def client(self, kind: Kind) -> Any:
        """What the kind calls: LiveKit's gateway, or the clinic's carrier account's."""
        if kind.name not in self.clients:
            self.clients[kind.name] = kind.client(self.clinic_id, self.gw)
        return self.clients[kind.name]

    def remember(self, fields: dict[str, Any]) -> None:
        for name, value in fields.items():
            if name != "lease_until":
                setattr(self.prov, name, value)  # the record the next plan starts from

    def keep(
        self, key: str, fields: dict[str, Any], action: str = "", detail: str = "", **kw: Any
    ) -> None:
        """An instance's record fields, and the step's event if any, under the fence: on the
        provisioning row for a "" instance; for a line, on its LineRule row in the same
        transaction as a fenced write of the provisioning row."""
        if not key:
            if action:
                self.save_done(action, detail, **kw, **fields)
            else:
                self.save(**fields)
            return
        with self.together():
            if action:
                self.save_done(action, detail, **kw)
            else:
                self.save()
            self.store_line(key, fields)

    def store_line(self, key: str, fields: dict[str, Any]) -> None:
        """Write a line's record; a row left with no rule and no intent is deleted."""
        row = self.lines.get(key) or LineRule(clinic_id=self.clinic_id, line=key)
        for name, value in fields.items():
            setattr(row, name, value)
        if row.rule_id or row.intent is not None:
            row.save()
            self.lines[key] = row
        else:
            if row.pk:
                row.delete()
            self.lines.pop(key, None)

    def idle(self) -> Result | None:
        """Nothing to do for this run: failed (waits for Retry or a change), or settled."""
        if self.prov.state == State.FAILED:
            return Result("noop", detail="failed; waiting for a retry or a change")
        if settled(self.prov) and not self.verify:
            return Result("noop")
        return None

    def plan(self, desired: DesiredState) -> list[Action]:
        return plan(desired, records_of(self.prov, self.lines), self.observed, verify=self.verify)

    def now(self) -> Any:
        return timezone.now()

    def run(self) -> Result:
        idle = self.idle()
        if idle is not None:
            return idle
        desired = self._load(first=True)
        for _ in range(MAX_PLANS):
            actions = self.plan(desired)
            if not actions:
                if self.converge(desired):
                    return Result("converged")
                desired = self._load()
                continue
            desired = self._apply_all(actions, desired)
        raise LiveKitTransientError("Provisioning needed more steps than expected; continuing.")

    def _load(self, *, first: bool = False) -> DesiredState:
        """The desired state, and the working state to write with the first fenced write."""
        if not first:
            self.prov.state = Provisioning.objects.values_list("state", flat=True).get(
                clinic_id=self.clinic_id
            )
        desired = load_desired(self.clinic_id)
        self.begin(desired)
        return desired

    def begin(self, desired: DesiredState) -> None:
        """Work towards `desired`: the working state goes with the next fenced write."""
        self.generation = desired.generation
        working = working_state(desired)
        if self.prov.state != working:
            self.pending["state"] = working

    def _apply_all(self, actions: list[Action], desired: DesiredState) -> DesiredState:
        for action in actions:
            if action.op == A.RELEASE_NUMBERS:
                with transaction.atomic():
                    self.save()
                    PhoneNumber.objects.for_clinic(desired.clinic).delete()
                return self._load()
            if self._apply(action):
                break  # something new is known: plan again
        return desired

    def converge(self, desired: DesiredState) -> bool:
        """Mark the clinic converged, unless it changed meanwhile (its generation moved)."""
        fields, detail = convergence(desired, self.now())
        with transaction.atomic():
            n = Provisioning.objects.filter(
                clinic_id=self.clinic_id, lease_owner=self.owner, generation=desired.generation
            ).update(**fields)
            if n:
                self.insert_event("converged", "ok", detail)
                after_convergence(desired, self.prov)
        if n:
            self.pending = {}
        return n == 1

    def record_failure(
        self, exc: LiveKitError, attempts: int, circuit: Circuit, rate_limited_runs: int = 1
    ) -> Result:
        """A failed run: classified, backed off or failed, under the fence. `attempts` and
        `rate_limited_runs` are this run's numbers, whichever of the two it counts as."""
        circuit.note(exc)
        fields, result = failed(self.clinic_id, attempts, exc, rate_limited_runs)
        self.save(**fields)
        return result

    # --- one action -----------------------------------------------------------------------

    def _apply(self, a: Action) -> bool:
        """Apply one action; True when the plan must be made again."""
        kind = BY_NAME[a.kind]
        if a.op in A.BLOCKING:
            raise self._blocked(kind, a)
        if a.op == A.OBSERVE:
            gw = self.client(kind)
            self.call(f"observe_{kind.name}", lambda: observe(kind, a, gw, self.observed))
            return True
        handler = getattr(self, f"_{a.op}")
        return bool(handler(kind, a))

    def _blocked(self, kind: Kind, a: Action) -> LiveKitError:
        refused = self.observed.rejected.get((kind.name, a.key))
        if a.op == A.REJECTED and refused is not None:
            return refused  # the refusal itself: nothing holds the keys
        if a.op == A.CONFLICT:
            code = refused.code if refused is not None else "conflict"
            status = refused.status if refused is not None else None
            return LiveKitConflictError(a.reason, code=code, status=status)
        if a.op == A.WAIT:
            return LiveKitTransientError(a.reason)
        return LiveKitPermanentError(a.reason)

    def _refused(self, kind: Kind, a: Action, exc: LiveKitRejectedError) -> bool:
        self.observed.rejected[(kind.name, a.key)] = exc
        self.observed.forget_kind(kind.name)
        return True

    def _create(self, kind: Kind, a: Action) -> bool:
        gw = self.client(kind)
        self.intend(kind, a)
        try:
            remote = self.call(f"create_{kind.name}", lambda: kind.create(gw, a.spec))
        except LiveKitRejectedError as exc:
            self.keep(a.key, kind.no_intent(a.key))  # refused: nothing was created
            return self._refused(kind, a, exc)
        except LiveKitError as exc:
            self.not_sent(kind, a, exc)
            raise
        return self.created(kind, a, remote)

    def intend(self, kind: Kind, a: Action) -> None:
        """The create's intent, committed before the call."""
        self.keep(a.key, kind.intent(a.spec, self.now(), a.key))

    def not_sent(self, kind: Kind, a: Action, exc: LiveKitError) -> None:
        """A create the local rate limiter refused was never sent: withdraw its intent, so
        the next run creates at once instead of listing upstream first."""
        if exc.code == LOCAL_RATE_LIMIT:
            self.keep(a.key, kind.no_intent(a.key))

    def created(self, kind: Kind, a: Action, remote: Any) -> bool:
        """Record what a create made; True: plan again (the new ID is known)."""
        object_id = kind.object_id(remote)
        fields = kind.stored(object_id, spec_hash(a.spec), a.key, kind.holds(a.spec))
        fields.update(kind.no_intent(a.key))
        self.keep(a.key, fields, f"create_{kind.name}", kind.created_detail(remote, a.spec))
        self.observed.forget_kind(kind.name)
        self.observed.by_id[(kind.name, object_id)] = remote
        self.observed.rejected.pop((kind.name, a.key), None)
        return True

    def _update(self, kind: Kind, a: Action) -> bool:
        gw = self.client(kind)
        try:
            remote = self.call(f"update_{kind.name}", lambda: kind.update(gw, a.object_id, a.spec))
        except LiveKitNotFoundError:
            why = "missing; recreating"
            self._forget(kind, Action(A.FORGET, kind.name, a.object_id, a.key, reason=why))
            return True
        except LiveKitRejectedError as exc:
            return self._refused(kind, a, exc)
        fields = kind.stored(a.object_id, spec_hash(a.spec), a.key, kind.holds(a.spec))
        self.keep(a.key, fields, f"update_{kind.name}", kind.updated_detail(a.object_id, a.spec))
        self.observed.forget_kind(kind.name)
        self.observed.by_id[(kind.name, a.object_id)] = remote
        return False

    def _delete(self, kind: Kind, a: Action) -> bool:
        gw = self.client(kind)
        self.call(f"delete_{kind.name}", lambda: kind.delete(gw, a.object_id))
        if a.role == A.STORED:
            self.keep(a.key, kind.stored("", "", a.key), f"delete_{kind.name}", a.object_id)
        elif a.role == A.DUPLICATE:
            self.event("duplicate_repaired", "ok", f"deleted duplicate {kind.name} {a.object_id}")
        else:
            self.event(f"delete_{kind.name}", "ok", f"{a.object_id} (from an unconfirmed create)")
        _drop(self.observed, kind, a.object_id)
        return False

    def _adopt(self, kind: Kind, a: Action) -> bool:
        same = not diff_fields(a.spec, a.remote.as_spec())
        applied = spec_hash(a.spec) if same else ""
        fields = kind.stored(a.object_id, applied, a.key, kind.holds(a.remote))
        fields.update(kind.no_intent(a.key))
        detail = f"adopted {a.object_id} created by an earlier attempt"
        self.keep(a.key, fields, f"adopt_{kind.name}", detail, timed=False)
        self.observed.by_id[(kind.name, a.object_id)] = a.remote
        self.observed.rejected.pop((kind.name, a.key), None)
        return False

    def _forget(self, kind: Kind, a: Action) -> bool:
        detail = f"{kind.name} {a.object_id} {a.reason}"
        self.keep(a.key, kind.stored("", "", a.key), "drift_repaired", detail, timed=False)
        self.observed.by_id[(kind.name, a.object_id)] = None
        return False

    def _clear_intent(self, kind: Kind, a: Action) -> bool:
        self.keep(a.key, kind.no_intent(a.key))
        return False

    def _record_hash(self, kind: Kind, a: Action) -> bool:
        self.keep(a.key, kind.stored(a.object_id, spec_hash(a.spec), a.key, kind.holds(a.spec)))
        return False


def reconcile_clinic(
    clinic_id: Any,
    *,
    gateway: LiveKitGateway | None = None,
    owner: str | None = None,
    verify: bool = False,
) -> Result:
    """One run for one clinic. Never raises upstream errors: they become state and a Result.
    `verify` observes every stored object instead of trusting the applied-spec hashes."""
    owner = owner or uuid.uuid4().hex
    if not Provisioning.objects.filter(clinic_id=clinic_id).exists():
        return Result("noop", detail="no such clinic")
    if not acquire_lease(clinic_id, owner):
        return Result("busy", retry_in=busy_delay(lease_remaining(clinic_id)))
    try:
        # The clinic's LiveKit project's gateway, limiter and circuit (telephony.upstream).
        gw = gateway or gateway_for_clinic(clinic_id)
        executor = ClinicExecutor(clinic_id, gw, owner, verify=verify)
        try:
            try:
                return executor.run()
            except LiveKitError as exc:
                attempts, limited = Provisioning.objects.values_list(
                    "attempts", "rate_limited_runs"
                ).get(clinic_id=clinic_id)
                circuit = Circuit(project_name(gw))
                return executor.record_failure(exc, attempts + 1, circuit, limited + 1)
        except LeaseLost:
            return Result("busy", detail="lease taken over by another run")
    finally:
        release_lease(clinic_id, owner)
