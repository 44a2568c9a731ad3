"""reconcile_clinic: bring LiveKit to the clinic's desired state, one step at a time.

Safe to run any number of times, concurrently and out of order (design.md §5):
- a lease (compare-and-set with an expiry, renewed before every LiveKit call) lets one run
  work on a clinic at a time; every write after a LiveKit call is fenced on the lease owner;
- a create intent is committed before every create, so a run that finds one observes
  LiveKit (list by numbers / trunk id) and adopts what carries our marker for this clinic
  instead of creating again;
- each step does at most one mutating call and records its outcome at once;
- the run ends when LiveKit holds the generation it read (observed_generation).
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any, TypeVar

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from telephony.livekit_gateway import (
    LiveKitAuthError,
    LiveKitConflictError,
    LiveKitError,
    LiveKitGateway,
    LiveKitNotFoundError,
    LiveKitPermanentError,
    LiveKitRejectedError,
    LiveKitTransientError,
    RemoteRule,
    RemoteTrunk,
    RuleSpec,
    TrunkSpec,
    get_gateway,
)
from telephony.models import PhoneNumber, Provisioning, ProvisioningEvent
from telephony.provisioning.circuit import auth_blocked, open_circuit
from telephony.provisioning.desired import DesiredState, load_desired, owner_of, spec_hash
from telephony.provisioning.lease import (
    acquire_lease,
    lease_expiry,
    lease_remaining,
    release_lease,
    renew_after_seconds,
    renew_window_seconds,
)
from tenants.models import Clinic

logger = logging.getLogger(__name__)

__all__ = [
    "Result",
    "acquire_lease",
    "backoff_seconds",
    "failure_fields",
    "reconcile_clinic",
    "renew_window_seconds",
]

T = TypeVar("T")
MAX_STEPS = 16
State = Provisioning.State


class LeaseLost(Exception):
    """Another run took the clinic over: stop without writing anything."""


@dataclass(frozen=True)
class Result:
    """What a run did. `retry_in` asks the caller to run again after that many seconds."""

    outcome: str  # converged | busy | retry | failed | noop
    retry_in: float | None = None
    detail: str = ""


def backoff_seconds(attempt: int, retry_after: float | None = None) -> float:
    """Exponential backoff with full jitter, never earlier than LiveKit's Retry-After."""
    cap = settings.PROVISIONING_BACKOFF_MAX_SECONDS
    ceiling = min(cap, settings.PROVISIONING_BACKOFF_BASE_SECONDS * (2 ** max(0, attempt - 1)))
    delay = random.uniform(0, ceiling)  # noqa: S311 (jitter, not cryptography)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


class Reconciler:
    def __init__(
        self, clinic_id: Any, gateway: LiveKitGateway, owner: str, *, verify: bool = False
    ) -> None:
        self.clinic_id = clinic_id
        self.gw = gateway
        self.owner = owner
        self.verify = verify
        self._verified: set[str] = set()
        self._circuit_checked = False
        self._generation = 0
        # Fields written with the next fenced write (the working state), and when the lease
        # was last renewed (every fenced write renews it).
        self._pending: dict[str, Any] = {}
        self._renewed_at = -float("inf")
        self._renew_after = renew_after_seconds()

    # --- fenced persistence ---------------------------------------------------------------

    def _save(self, **fields: Any) -> None:
        fields = {**self._pending, **fields}
        fields.setdefault("lease_until", lease_expiry())
        renewing = time.monotonic()
        n = Provisioning.objects.filter(clinic_id=self.clinic_id, lease_owner=self.owner).update(
            **fields
        )
        if n != 1:
            raise LeaseLost
        self._pending = {}
        self._renewed_at = renewing

    def _save_done(self, action: str, detail: str, *, timed: bool = True, **fields: Any) -> None:
        """Record a step's new state and its event in one transaction (one commit): the
        event row is written under the same fence as the state change it describes."""
        with transaction.atomic():
            self._save(**fields)
            self._insert_event(action, "ok", detail, **(self._timing() if timed else {}))

    def _event(self, action: str, outcome: str = "ok", detail: str = "", **kw: Any) -> None:
        """An event on its own: written under the lease fence (which it renews)."""
        with transaction.atomic():
            self._save()
            self._insert_event(action, outcome, detail, **kw)

    def _insert_event(self, action: str, outcome: str, detail: str, **kw: Any) -> None:
        ProvisioningEvent.objects.create(
            clinic_id=self.clinic_id,
            generation=self._generation,
            action=action,
            outcome=outcome,
            detail=detail[:2000],
            **kw,
        )

    def _timing(self) -> dict[str, Any]:
        return {
            "duration_ms": getattr(self, "_last_ms", None),
            "request_id": self.gw.last_call.request_id,
        }

    def _call(self, action: str, fn: Callable[[], T]) -> T:
        """Renew the lease, make one LiveKit call, and time it for the event log."""
        if self._pending or time.monotonic() - self._renewed_at > self._renew_after:
            self._save()
        if not self._circuit_checked:
            self._circuit_checked = True
            blocked = auth_blocked()
            if blocked:
                raise LiveKitAuthError(blocked, code="circuit_open")
        started = time.monotonic()
        try:
            result = fn()
        except LiveKitError as exc:
            self._event(
                action,
                "error",
                exc.sentence,
                duration_ms=int((time.monotonic() - started) * 1000),
                request_id=exc.request_id,
            )
            raise
        self._last_ms = int((time.monotonic() - started) * 1000)
        return result

    def _done(self, action: str, detail: str = "") -> None:
        self._event(action, "ok", detail, **self._timing())

    def _mine(self, metadata: str) -> bool:
        return owner_of(metadata) == str(self.clinic_id)

    # --- the loop -------------------------------------------------------------------------

    def run(self) -> Result:
        for _ in range(MAX_STEPS):
            prov = Provisioning.objects.get(clinic_id=self.clinic_id)
            if prov.state == State.FAILED:
                return Result("noop", detail="failed; waiting for a retry or a change")
            if (
                prov.converged
                and not self.verify
                and prov.state
                in (
                    State.ACTIVE,
                    State.DEPROVISIONED,
                    State.NEW,
                )
            ):
                return Result("noop")
            desired = load_desired(self.clinic_id)
            self._generation = desired.generation
            working = State.PROVISIONING if desired.trunk_wanted else State.DEPROVISIONING
            if prov.state != working:
                # Written with this step's first fenced write, before any LiveKit call.
                self._pending["state"] = working
            if not self._step(prov, desired) and self._mark_converged(desired):
                return Result("converged")
        raise LiveKitTransientError("Provisioning needed more steps than expected; continuing.")

    def _step(self, prov: Provisioning, desired: DesiredState) -> bool:
        """Do at most one upstream mutation. False when nothing is left to do."""
        if not desired.rule_wanted and (prov.dispatch_rule_id or prov.rule_intent):
            return self._remove_rule(prov)
        if desired.trunk_wanted:
            if self._ensure_trunk(prov, desired.trunk()):
                return True
            prov.refresh_from_db()
            if desired.rule_wanted:
                return self._ensure_rule(prov, desired.rule(prov.trunk_id))
            return False
        if prov.trunk_id or prov.trunk_intent:
            return self._remove_trunk(prov, desired)
        return False

    def _mark_converged(self, desired: DesiredState) -> bool:
        now = timezone.now()
        final = State.ACTIVE if desired.trunk_wanted else State.DEPROVISIONED
        with transaction.atomic():
            # Converged and the lease released in one commit.
            n = Provisioning.objects.filter(
                clinic_id=self.clinic_id, lease_owner=self.owner, generation=desired.generation
            ).update(
                observed_generation=desired.generation,
                state=final,
                attempts=0,
                last_error="",
                last_error_code="",
                next_attempt_at=None,
                converged_at=now,
                last_synced_at=now,
                lease_owner="",
                lease_until=None,
            )
            if n and desired.clinic.state == Clinic.State.OFFBOARDED:
                # The trunk is gone: the numbers are free for other clinics again.
                PhoneNumber.objects.for_clinic(desired.clinic).delete()
            if n:
                self._insert_event("converged", "ok", f"state {final}")
        if n:
            self._pending = {}
        return n == 1

    # --- trunk ----------------------------------------------------------------------------

    def _ensure_trunk(self, prov: Provisioning, spec: TrunkSpec) -> bool:
        if not prov.trunk_id:
            return self._create_trunk(prov, spec)
        wanted = spec_hash(spec)
        if self.verify and "trunk" not in self._verified:
            self._verified.add("trunk")
            found = self._call(
                "observe_trunk", lambda: self.gw.list_inbound_trunks(trunk_ids=[prov.trunk_id])
            )
            if not found:
                self._forget_trunk(prov.trunk_id)
                return True
            if not self._mine(found[0].metadata):
                raise LiveKitPermanentError(
                    f"Trunk {prov.trunk_id} in LiveKit is not marked as this clinic's; "
                    "an operator must check it."
                )
            if found[0].as_spec() == spec:
                if prov.trunk_applied_hash != wanted:
                    self._save(trunk_applied_hash=wanted)
                return False
            self._save(trunk_applied_hash="")
            return True
        if prov.trunk_applied_hash == wanted:
            return False
        try:
            self._call("update_trunk", lambda: self.gw.replace_inbound_trunk(prov.trunk_id, spec))
        except LiveKitNotFoundError:
            self._forget_trunk(prov.trunk_id)
            return True
        except LiveKitRejectedError as exc:
            self._raise_number_conflict(spec, exc)
        self._save_done(
            "update_trunk", f"numbers {', '.join(spec.numbers)}", trunk_applied_hash=wanted
        )
        return True

    def _forget_trunk(self, trunk_id: str) -> None:
        self._save_done(
            "drift_repaired",
            f"trunk {trunk_id} missing; recreating",
            timed=False,
            trunk_id="",
            trunk_applied_hash="",
        )

    def _observe_trunks(self, numbers: list[str]) -> list[RemoteTrunk]:
        return self._call("observe_trunk", lambda: self.gw.list_inbound_trunks(numbers=numbers))

    def _create_trunk(self, prov: Provisioning, spec: TrunkSpec) -> bool:
        if prov.trunk_intent and self._adopt_trunk(prov, spec):
            return True
        self._save(
            trunk_intent=uuid.uuid4(),
            trunk_intent_numbers=list(spec.numbers),
            trunk_intent_at=timezone.now(),
        )
        try:
            remote = self._call("create_trunk", lambda: self.gw.create_inbound_trunk(spec))
        except LiveKitRejectedError as exc:
            if self._adopt_trunk(prov, spec, intent_numbers=list(spec.numbers)):
                return True
            self._save(trunk_intent=None, trunk_intent_numbers=[], trunk_intent_at=None)
            self._raise_number_conflict(spec, exc)
        self._save_done(
            "create_trunk",
            f"{remote.trunk_id} with {', '.join(spec.numbers)}",
            trunk_id=remote.trunk_id,
            trunk_applied_hash=spec_hash(spec),
            trunk_intent=None,
            trunk_intent_numbers=[],
            trunk_intent_at=None,
        )
        return True

    def _adopt_trunk(
        self, prov: Provisioning, spec: TrunkSpec, intent_numbers: list[str] | None = None
    ) -> bool:
        numbers = sorted(set(spec.numbers) | set(intent_numbers or prov.trunk_intent_numbers))
        mine = sorted(
            (t for t in self._observe_trunks(numbers) if self._mine(t.metadata)),
            key=lambda t: t.trunk_id,
        )
        if not mine:
            return False
        keep, extra = mine[0], mine[1:]
        for dup in extra:
            self._call("delete_trunk", partial(self.gw.delete_trunk, dup.trunk_id))
            self._done("duplicate_repaired", f"deleted duplicate trunk {dup.trunk_id}")
        self._save_done(
            "adopt_trunk",
            f"adopted {keep.trunk_id} created by an earlier attempt",
            timed=False,
            trunk_id=keep.trunk_id,
            trunk_applied_hash=spec_hash(spec) if keep.as_spec() == spec else "",
            trunk_intent=None,
            trunk_intent_numbers=[],
            trunk_intent_at=None,
        )
        return True

    def _raise_number_conflict(self, spec: TrunkSpec, exc: LiveKitError) -> None:
        """LiveKit rejected a trunk write: a conflict only if another trunk holds one of
        the numbers (listed, not read from the error's wording); else the rejection."""
        holders = self._observe_trunks(list(spec.numbers))
        others = [
            t for t in holders if not self._mine(t.metadata) and set(t.numbers) & set(spec.numbers)
        ]
        if not others:
            raise exc
        if any(owner_of(t.metadata) for t in others):
            # Another clinic of ours still holds the number (it is being released): wait.
            raise LiveKitTransientError(
                "A number is still held by another clinic's trunk that is being updated; "
                "retrying shortly."
            )
        taken = sorted({n for t in others for n in t.numbers} & set(spec.numbers))
        raise LiveKitConflictError(
            f"LiveKit already routes {', '.join(taken) or 'one of these numbers'} to a trunk "
            "that Switchboard does not manage. Remove that trunk in LiveKit, or remove the "
            "number here, then press Retry.",
            code=exc.code,
            status=exc.status,
        )

    def _remove_trunk(self, prov: Provisioning, desired: DesiredState) -> bool:
        if prov.trunk_id:
            trunk_id = prov.trunk_id
            if self.verify and self._gone_upstream("trunk", trunk_id):
                return True
            self._call("delete_trunk", lambda: self.gw.delete_trunk(trunk_id))
            self._save_done("delete_trunk", trunk_id, trunk_id="", trunk_applied_hash="")
            return True
        numbers = sorted(set(prov.trunk_intent_numbers) | set(desired.numbers))
        for trunk in self._observe_trunks(numbers) if numbers else []:
            if self._mine(trunk.metadata):
                self._call("delete_trunk", partial(self.gw.delete_trunk, trunk.trunk_id))
                self._done("delete_trunk", f"{trunk.trunk_id} (from an unconfirmed create)")
        self._save(trunk_intent=None, trunk_intent_numbers=[], trunk_intent_at=None)
        return True

    def _gone_upstream(self, kind: str, object_id: str) -> bool:
        """Verify mode, before a delete: a stored object already gone upstream only has its
        record cleared (no call); one not marked as this clinic's is never deleted."""
        if kind == "trunk":
            found: list[Any] = self._call(
                "observe_trunk", lambda: self.gw.list_inbound_trunks(trunk_ids=[object_id])
            )
            cleared = {"trunk_id": "", "trunk_applied_hash": ""}
        else:
            found = self._call(
                "observe_rule", lambda: self.gw.list_dispatch_rules(rule_ids=[object_id])
            )
            cleared = {"dispatch_rule_id": "", "rule_applied_hash": ""}
        if not found:
            detail = f"{kind} {object_id} already gone from LiveKit"
            self._save_done("drift_repaired", detail, timed=False, **cleared)
            return True
        if not self._mine(found[0].metadata):
            raise LiveKitPermanentError(
                f"The {kind} {object_id} in LiveKit is not marked as this clinic's; "
                "an operator must check it."
            )
        return False

    # --- dispatch rule --------------------------------------------------------------------

    def _ensure_rule(self, prov: Provisioning, spec: RuleSpec) -> bool:
        if not prov.dispatch_rule_id:
            return self._create_rule(prov, spec)
        wanted = spec_hash(spec)
        if self.verify and "rule" not in self._verified:
            self._verified.add("rule")
            found = self._call(
                "observe_rule",
                lambda: self.gw.list_dispatch_rules(rule_ids=[prov.dispatch_rule_id]),
            )
            if not found:
                self._forget_rule(prov.dispatch_rule_id)
                return True
            if found[0].as_spec() == spec:
                if prov.rule_applied_hash != wanted:
                    self._save(rule_applied_hash=wanted)
                return False
            self._save(rule_applied_hash="")
            return True
        if prov.rule_applied_hash == wanted:
            return False
        rule_id = prov.dispatch_rule_id
        try:
            self._call("update_rule", lambda: self.gw.replace_dispatch_rule(rule_id, spec))
        except LiveKitNotFoundError:
            self._forget_rule(rule_id)
            return True
        self._save_done("update_rule", rule_id, rule_applied_hash=wanted)
        return True

    def _forget_rule(self, rule_id: str) -> None:
        self._save_done(
            "drift_repaired",
            f"rule {rule_id} missing; recreating",
            timed=False,
            dispatch_rule_id="",
            rule_applied_hash="",
        )

    def _create_rule(self, prov: Provisioning, spec: RuleSpec) -> bool:
        if prov.rule_intent and self._adopt_rule(spec):
            return True
        self._save(rule_intent=uuid.uuid4(), rule_intent_at=timezone.now())
        try:
            remote = self._call("create_rule", lambda: self.gw.create_dispatch_rule(spec))
        except LiveKitRejectedError as exc:
            on_trunk = self._rules_on(spec.trunk_ids)
            if self._adopt_rule(spec, on_trunk):
                return True
            self._save(rule_intent=None, rule_intent_at=None)
            if not any(not self._mine(r.metadata) for r in on_trunk):
                raise  # no other rule holds the trunk: the rejection itself
            raise LiveKitConflictError(
                "LiveKit already has a dispatch rule for this clinic's trunk that Switchboard "
                "does not manage. Remove it in LiveKit, then press Retry.",
                code=exc.code,
                status=exc.status,
            ) from None
        self._save_done(
            "create_rule",
            f"{remote.rule_id} prefix {spec.room_prefix}",
            dispatch_rule_id=remote.rule_id,
            rule_applied_hash=spec_hash(spec),
            rule_intent=None,
            rule_intent_at=None,
        )
        return True

    def _rules_on(self, trunk_ids: tuple[str, ...]) -> list[RemoteRule]:
        """Every rule LiveKit binds to these trunks, whoever's."""
        return self._call(
            "observe_rule", lambda: self.gw.list_dispatch_rules(trunk_ids=list(trunk_ids))
        )

    def _observe_rules(self, trunk_ids: tuple[str, ...]) -> list[RemoteRule]:
        found = self._rules_on(trunk_ids)
        return sorted((r for r in found if self._mine(r.metadata)), key=lambda r: r.rule_id)

    def _adopt_rule(self, spec: RuleSpec, on_trunk: list[RemoteRule] | None = None) -> bool:
        found = self._rules_on(spec.trunk_ids) if on_trunk is None else on_trunk
        mine = sorted((r for r in found if self._mine(r.metadata)), key=lambda r: r.rule_id)
        if not mine:
            return False
        keep, extra = mine[0], mine[1:]
        for dup in extra:
            self._call("delete_rule", partial(self.gw.delete_dispatch_rule, dup.rule_id))
            self._done("duplicate_repaired", f"deleted duplicate rule {dup.rule_id}")
        self._save_done(
            "adopt_rule",
            f"adopted {keep.rule_id} created by an earlier attempt",
            timed=False,
            dispatch_rule_id=keep.rule_id,
            rule_applied_hash=spec_hash(spec) if keep.as_spec() == spec else "",
            rule_intent=None,
            rule_intent_at=None,
        )
        return True

    def _remove_rule(self, prov: Provisioning) -> bool:
        if prov.dispatch_rule_id:
            rule_id = prov.dispatch_rule_id
            if self.verify and self._gone_upstream("rule", rule_id):
                return True
            self._call("delete_rule", lambda: self.gw.delete_dispatch_rule(rule_id))
            self._save_done("delete_rule", rule_id, dispatch_rule_id="", rule_applied_hash="")
            return True
        if prov.trunk_id:
            for rule in self._observe_rules((prov.trunk_id,)):
                self._call("delete_rule", partial(self.gw.delete_dispatch_rule, rule.rule_id))
                self._done("delete_rule", f"{rule.rule_id} (from an unconfirmed create)")
        self._save(rule_intent=None, rule_intent_at=None)
        return True


# --- failure handling ---------------------------------------------------------------------


def failure_fields(attempts: int, exc: LiveKitError) -> tuple[dict[str, Any], Result]:
    """The provisioning fields for a failed run (attempt number `attempts`), and its Result.

    Permanent errors, and transient ones past PROVISIONING_MAX_ATTEMPTS, end in FAILED with
    a sentence and wait for Retry; the rest wait a jittered backoff in RETRYING.
    """
    fields: dict[str, Any] = {
        "attempts": attempts,
        "last_error_code": exc.code or type(exc).__name__,
    }
    if exc.permanent or attempts >= settings.PROVISIONING_MAX_ATTEMPTS:
        sentence = exc.sentence
        if not exc.permanent:
            reason = exc.sentence.removesuffix("; retrying.").removesuffix(".")
            sentence = (
                f"Provisioning failed after {attempts} attempts: {reason}. "
                "Press Retry once LiveKit is reachable again."
            )
        fields.update(state=State.FAILED, last_error=sentence, next_attempt_at=None)
        return fields, Result("failed", detail=sentence)
    delay = backoff_seconds(attempts, exc.retry_after)
    fields.update(
        state=State.RETRYING,
        last_error=exc.sentence,
        next_attempt_at=timezone.now() + timedelta(seconds=delay),
    )
    return fields, Result("retry", retry_in=delay, detail=exc.sentence)


def _record_failure(clinic_id: Any, owner: str, exc: LiveKitError) -> Result:
    prov = Provisioning.objects.get(clinic_id=clinic_id)
    if isinstance(exc, LiveKitAuthError) and exc.code != "circuit_open":
        open_circuit(exc.sentence)
    fields, result = failure_fields(prov.attempts + 1, exc)
    Provisioning.objects.filter(clinic_id=clinic_id, lease_owner=owner).update(**fields)
    logger.info("reconcile %s: %s (%s)", clinic_id, result.outcome, exc.sentence)
    return result


def reconcile_clinic(
    clinic_id: Any,
    *,
    gateway: LiveKitGateway | None = None,
    owner: str | None = None,
    verify: bool = False,
) -> Result:
    """One reconcile run. Never raises LiveKit errors: they become state and a Result."""
    owner = owner or uuid.uuid4().hex
    if not Provisioning.objects.filter(clinic_id=clinic_id).exists():
        return Result("noop", detail="no such clinic")
    if not acquire_lease(clinic_id, owner):
        return Result("busy", retry_in=lease_remaining(clinic_id) + random.uniform(0.1, 1.0))  # noqa: S311
    try:
        reconciler = Reconciler(clinic_id, gateway or get_gateway(), owner, verify=verify)
        try:
            return reconciler.run()
        except LeaseLost:
            return Result("busy", detail="lease taken over by another run")
        except LiveKitError as exc:
            return _record_failure(clinic_id, owner, exc)
    finally:
        release_lease(clinic_id, owner)
