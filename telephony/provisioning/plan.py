"""The dry run: the planner's output over a full observation, for the console.

`observe_all` asks the planner (in verify mode, as "re-provision now" runs) what it needs
to know, reads it with list calls only through a gateway that cannot mutate, and repeats
until the plan needs nothing more; `plan_clinic` returns that plan. It writes nothing: not
upstream, not to the database (not even an event; the staff page logs who asked). Since a
verifying run plans with the same function from the same facts, the dry run is what it
does by construction (tests/telephony/test_plan_property.py checks it against the emulator).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from telephony.models import LineRule, Provisioning
from telephony.provisioning import actions as A
from telephony.provisioning.actions import Action, Observed, Record, Slot
from telephony.provisioning.desired import DesiredState, load_desired
from telephony.provisioning.executor import observe
from telephony.provisioning.kinds import BY_NAME
from telephony.provisioning.planner import plan, records_of

NEW_TRUNK = A.PENDING_ID
_BLOCKED = {A.CONFLICT: "blocked", A.FOREIGN: "blocked", A.REJECTED: "blocked"}
_REASONS = {A.DUPLICATE: "duplicate of ours", A.UNCONFIRMED: "from an unconfirmed create"}


@dataclass(frozen=True)
class Step:
    """One planned action as the console shows it."""

    action: str
    kind: str  # trunk | rule | carrier | numbers
    object_id: str = ""
    line: str = ""  # a line's rule: the receptionist's id (decision 0085)
    reason: str = ""
    changes: tuple[str, ...] = ()  # the fields that differ, for updates
    upstream: bool = False  # a mutating upstream call when reconcile runs

    @classmethod
    def of(cls, a: Action) -> Step:
        name = a.op
        if a.op in A.MUTATING or a.op == A.ADOPT:
            name = f"{a.op}_{a.kind}"
        reason = a.reason or (_REASONS.get(a.role, "") if a.op == A.DELETE else "")
        return cls(
            action=_BLOCKED.get(a.op, name),
            kind=a.kind,
            object_id=a.object_id,
            line=a.key,
            reason=reason,
            changes=a.changes,
            upstream=a.upstream,
        )


@dataclass(frozen=True)
class Plan:
    clinic_id: str
    generation: int
    steps: tuple[Step, ...]
    notes: tuple[str, ...] = ()
    observed: Observed = field(default_factory=Observed)
    error: str = ""  # upstream could not be read: no plan

    @property
    def upstream_steps(self) -> int:
        return sum(1 for s in self.steps if s.upstream)

    @property
    def in_sync(self) -> bool:
        return not self.error and not self.steps


class ReadOnlyGateway:
    """Only the list calls of a gateway: the dry run cannot mutate upstream by construction."""

    _ALLOWED = frozenset({"list_inbound_trunks", "list_dispatch_rules", "list_carrier_trunks"})

    def __init__(self, gateway: Any) -> None:
        self._gw = gateway

    def __getattr__(self, name: str) -> Any:
        if name not in self._ALLOWED:
            raise AttributeError(f"the dry-run planner may not call {name}")
        return getattr(self._gw, name)


def observe_all(desired: DesiredState, records: dict[Slot, Record], gateway: Any) -> Observed:
    """Read everything the verifying planner asks for, each kind through its own client
    (LiveKit, the clinic's carrier account). List calls only; raises LiveKitError."""
    clients: dict[str, ReadOnlyGateway] = {}
    observed = Observed()
    while True:
        reads = [a for a in plan(desired, records, observed, verify=True) if a.op == A.OBSERVE]
        if not reads:
            return observed
        for a in reads:
            kind = BY_NAME[a.kind]
            if kind.name not in clients:
                clients[kind.name] = ReadOnlyGateway(kind.client(desired.clinic.pk, gateway))
            observe(kind, a, clients[kind.name], observed)


def _notes(prov: Provisioning, desired: DesiredState, steps: tuple[Step, ...]) -> list[str]:
    notes = []
    if prov.state == Provisioning.State.FAILED:
        notes.append(
            "Provisioning has failed: reconcile does nothing until Retry (or a change). "
            "These are the steps a retry would take."
        )
    if prov.lease_owner:
        notes.append("A reconcile run holds the clinic's lease right now; LiveKit may be moving.")
    if not steps and not prov.converged:
        notes.append(
            "LiveKit already matches; reconcile would only mark the clinic converged "
            f"(generation {desired.generation})."
        )
    return notes


def plan_clinic(clinic_id: Any, gateway: Any = None) -> Plan:
    """Observe upstream and plan. Never writes; upstream errors become `Plan.error`."""
    from telephony.livekit_gateway import LiveKitError
    from telephony.upstream import gateway_for_clinic

    prov = Provisioning.objects.get(clinic_id=clinic_id)
    desired = load_desired(clinic_id)
    records = records_of(prov, {r.line: r for r in LineRule.objects.filter(clinic_id=clinic_id)})
    try:
        observed = observe_all(desired, records, gateway or gateway_for_clinic(clinic_id))
    except LiveKitError as exc:
        return Plan(str(clinic_id), desired.generation, (), error=exc.sentence)
    steps = tuple(Step.of(a) for a in plan(desired, records, observed, verify=True))
    return Plan(
        clinic_id=str(desired.clinic.pk),
        generation=desired.generation,
        steps=steps,
        notes=tuple(_notes(prov, desired, steps)),
        observed=observed,
    )
