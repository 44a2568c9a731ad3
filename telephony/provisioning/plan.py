"""The dry-run plan: what reconcile would create, update or delete for a clinic, and why.

Two halves, so that the planning itself is a pure function:

- `observe(prov, desired, gateway)` reads LiveKit with list calls only (by the stored IDs,
  and by the clinic's numbers / trunk where reconcile would look for something to adopt or
  would run into a conflict). The gateway is wrapped so that any other method raises: a dry
  run cannot create, update or delete, whatever a later change to this module does.
- `plan(prov, desired, observed)` compares and returns the steps. No I/O, no database.

`plan_clinic(clinic_id)` puts both together for the console. It writes nothing: not to
LiveKit, not to the database (not even an event; the staff page logs who asked).

The plan follows reconcile's order and rules (reconcile.py `_step`): the rule goes before
the trunk when it is no longer wanted; the trunk is created or brought up to date before
the rule; an object is only ever adopted, changed or deleted when it carries our marker for
this clinic. It always verifies against LiveKit, like the "re-provision now" action
(`verify=True`), rather than trusting the applied-spec hashes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from telephony.livekit_gateway import RemoteRule, RemoteTrunk, RuleSpec, TrunkSpec
from telephony.models import Provisioning
from telephony.provisioning.desired import DesiredState, load_desired, owner_of

NEW_TRUNK = "(new trunk)"

# Step actions. "blocked" steps are where reconcile would stop with a permanent failure.
CREATE_TRUNK = "create_trunk"
UPDATE_TRUNK = "update_trunk"
DELETE_TRUNK = "delete_trunk"
ADOPT_TRUNK = "adopt_trunk"
CREATE_RULE = "create_rule"
UPDATE_RULE = "update_rule"
DELETE_RULE = "delete_rule"
ADOPT_RULE = "adopt_rule"
FORGET = "forget"  # the stored ID points at nothing upstream: only the record is cleared
BLOCKED = "blocked"
RELEASE_NUMBERS = "release_numbers"

MUTATING = frozenset(
    {CREATE_TRUNK, UPDATE_TRUNK, DELETE_TRUNK, CREATE_RULE, UPDATE_RULE, DELETE_RULE}
)


@dataclass(frozen=True)
class Step:
    action: str
    kind: str  # trunk | rule | numbers
    object_id: str = ""
    reason: str = ""
    changes: tuple[str, ...] = ()  # the fields that differ, for updates

    @property
    def upstream(self) -> bool:
        """Whether this step is a mutating LiveKit call when reconcile runs."""
        return self.action in MUTATING


@dataclass(frozen=True)
class Observed:
    """What LiveKit holds that concerns this clinic (all from list calls)."""

    trunk: RemoteTrunk | None = None  # by the stored trunk ID
    rule: RemoteRule | None = None  # by the stored rule ID
    trunks_on_numbers: tuple[RemoteTrunk, ...] = ()  # trunks holding the clinic's numbers
    rules_on_trunk: tuple[RemoteRule, ...] = ()  # rules bound to the clinic's trunk
    calls: tuple[str, ...] = ()  # the list calls made, for the page


@dataclass(frozen=True)
class Plan:
    clinic_id: str
    generation: int
    steps: tuple[Step, ...]
    notes: tuple[str, ...] = ()
    observed: Observed = field(default_factory=Observed)
    error: str = ""  # LiveKit could not be read: no plan

    @property
    def upstream_steps(self) -> int:
        return sum(1 for s in self.steps if s.upstream)

    @property
    def in_sync(self) -> bool:
        return not self.error and not self.steps


class ReadOnlyGateway:
    """Only the list calls of a gateway: the planner cannot mutate LiveKit by construction."""

    _ALLOWED = frozenset({"list_inbound_trunks", "list_dispatch_rules"})

    def __init__(self, gateway: Any) -> None:
        self._gw = gateway

    def __getattr__(self, name: str) -> Any:
        if name not in self._ALLOWED:
            raise AttributeError(f"the dry-run planner may not call {name}")
        return getattr(self._gw, name)


def _mine(metadata: str, clinic_id: str) -> bool:
    return owner_of(metadata) == clinic_id


def observe(prov: Provisioning, desired: DesiredState, gateway: Any) -> Observed:
    """Read what reconcile would look at. List calls only; raises LiveKitError."""
    gw = ReadOnlyGateway(gateway)
    calls: list[str] = []
    trunk = rule = None
    on_numbers: list[RemoteTrunk] = []
    on_trunk: list[RemoteRule] = []
    if prov.trunk_id:
        calls.append(f"ListSIPInboundTrunk trunk_ids=[{prov.trunk_id}]")
        found = gw.list_inbound_trunks(trunk_ids=[prov.trunk_id])
        trunk = found[0] if found else None
    numbers = sorted(set(desired.numbers) | set(prov.trunk_intent_numbers))
    if numbers and (trunk is None or set(trunk.numbers) != set(desired.numbers)):
        # Where reconcile would adopt from (an unconfirmed create) or conflict on create.
        calls.append(f"ListSIPInboundTrunk numbers={numbers}")
        on_numbers = gw.list_inbound_trunks(numbers=numbers)
    if prov.dispatch_rule_id:
        calls.append(f"ListSIPDispatchRule rule_ids=[{prov.dispatch_rule_id}]")
        found_rules = gw.list_dispatch_rules(rule_ids=[prov.dispatch_rule_id])
        rule = found_rules[0] if found_rules else None
    if not prov.dispatch_rule_id and trunk is not None:
        calls.append(f"ListSIPDispatchRule trunk_ids=[{trunk.trunk_id}]")
        on_trunk = gw.list_dispatch_rules(trunk_ids=[trunk.trunk_id])
    return Observed(
        trunk=trunk,
        rule=rule,
        trunks_on_numbers=tuple(on_numbers),
        rules_on_trunk=tuple(on_trunk),
        calls=tuple(calls),
    )


def diff_fields(desired: Any, observed: Any) -> tuple[str, ...]:
    """Names of the dataclass fields whose values differ (sequences compared as sets)."""
    out = []
    for f in fields(desired):
        a, b = getattr(desired, f.name), getattr(observed, f.name, None)
        if isinstance(a, Sequence) and not isinstance(a, str) and isinstance(b, Sequence):
            if sorted(map(str, a)) != sorted(map(str, b)):
                out.append(f.name)
        elif a != b:
            out.append(f.name)
    return tuple(out)


def plan(prov: Provisioning, desired: DesiredState, observed: Observed) -> Plan:
    """The steps reconcile would take from `observed` to `desired`. Pure: no I/O."""
    clinic_id = str(desired.clinic.pk)
    steps: list[Step] = []
    notes: list[str] = []
    if prov.state == Provisioning.State.FAILED:
        notes.append(
            "Provisioning has failed: reconcile does nothing until Retry (or a change). "
            "These are the steps a retry would take."
        )
    if prov.lease_owner:
        notes.append("A reconcile run holds the clinic's lease right now; LiveKit may be moving.")

    trunk_id = ""  # the trunk the rule will point at once the trunk steps are done
    trunk = observed.trunk

    # 1. A rule that is no longer wanted goes first (suspend, offboard, no numbers left).
    if not desired.rule_wanted:
        if prov.dispatch_rule_id:
            if observed.rule is None:
                steps.append(
                    Step(FORGET, "rule", prov.dispatch_rule_id, "already gone from LiveKit")
                )
            elif _mine(observed.rule.metadata, clinic_id):
                steps.append(
                    Step(DELETE_RULE, "rule", prov.dispatch_rule_id, _why_no_rule(desired))
                )
            else:
                steps.append(_foreign("rule", prov.dispatch_rule_id))
        elif prov.rule_intent:
            for r in observed.rules_on_trunk:
                if _mine(r.metadata, clinic_id):
                    steps.append(Step(DELETE_RULE, "rule", r.rule_id, "from an unconfirmed create"))

    # 2. The trunk.
    if desired.trunk_wanted:
        spec = desired.trunk()
        if prov.trunk_id and trunk is not None:
            if not _mine(trunk.metadata, clinic_id):
                steps.append(_foreign("trunk", prov.trunk_id))
                return _done(prov, desired, observed, steps, notes)
            trunk_id = prov.trunk_id
            changed = diff_fields(spec, trunk.as_spec())
            taken = _foreign_numbers(spec, observed, exclude=trunk_id)
            if taken:
                steps.append(_number_conflict(taken))
                return _done(prov, desired, observed, steps, notes)
            if changed:
                steps.append(
                    Step(
                        UPDATE_TRUNK, "trunk", trunk_id, "LiveKit differs from Switchboard", changed
                    )
                )
        else:
            if prov.trunk_id:
                notes.append(f"The stored trunk {prov.trunk_id} is missing from LiveKit.")
                steps.append(Step(FORGET, "trunk", prov.trunk_id, "missing from LiveKit"))
            trunk_id, trunk_steps = _trunk_create_or_adopt(spec, observed, clinic_id)
            steps.extend(trunk_steps)
            if not trunk_id:
                return _done(prov, desired, observed, steps, notes)

        # 3. The rule, pointing at that trunk.
        if desired.rule_wanted:
            steps.extend(_rule_steps(prov, desired.rule(trunk_id), observed, clinic_id))
    else:
        # 4. No trunk wanted: delete ours (by ID, or found through an unconfirmed create).
        if prov.trunk_id:
            if trunk is None:
                steps.append(Step(FORGET, "trunk", prov.trunk_id, "already gone from LiveKit"))
            elif _mine(trunk.metadata, clinic_id):
                steps.append(Step(DELETE_TRUNK, "trunk", prov.trunk_id, _why_no_trunk(desired)))
            else:
                steps.append(_foreign("trunk", prov.trunk_id))
        elif prov.trunk_intent:
            for t in observed.trunks_on_numbers:
                if _mine(t.metadata, clinic_id):
                    steps.append(
                        Step(DELETE_TRUNK, "trunk", t.trunk_id, "from an unconfirmed create")
                    )
        if desired.clinic.is_offboarded and desired.numbers:
            steps.append(
                Step(
                    RELEASE_NUMBERS,
                    "numbers",
                    reason=f"{len(desired.numbers)} number(s) freed for other clinics "
                    "(database only, once LiveKit is clean)",
                )
            )
    return _done(prov, desired, observed, steps, notes)


def _done(
    prov: Provisioning,
    desired: DesiredState,
    observed: Observed,
    steps: list[Step],
    notes: list[str],
) -> Plan:
    if not steps and not prov.converged:
        notes.append(
            "LiveKit already matches; reconcile would only mark the clinic converged "
            f"(generation {desired.generation})."
        )
    return Plan(
        clinic_id=str(desired.clinic.pk),
        generation=desired.generation,
        steps=tuple(steps),
        notes=tuple(notes),
        observed=observed,
    )


def _trunk_create_or_adopt(
    spec: TrunkSpec, observed: Observed, clinic_id: str
) -> tuple[str, list[Step]]:
    """No usable stored trunk: adopt ours if LiveKit has one on our numbers, else create."""
    wanted = set(spec.numbers)
    holders = [t for t in observed.trunks_on_numbers if set(t.numbers) & wanted]
    mine = sorted((t for t in holders if _mine(t.metadata, clinic_id)), key=lambda t: t.trunk_id)
    if mine:
        keep = mine[0]
        steps = [Step(ADOPT_TRUNK, "trunk", keep.trunk_id, "ours, from an earlier create")]
        steps += [
            Step(DELETE_TRUNK, "trunk", dup.trunk_id, "duplicate of ours") for dup in mine[1:]
        ]
        changed = diff_fields(spec, keep.as_spec())
        if changed:
            steps.append(
                Step(UPDATE_TRUNK, "trunk", keep.trunk_id, "adopted trunk differs", changed)
            )
        return keep.trunk_id, steps
    foreign = _foreign_numbers(spec, observed)
    if foreign:
        return "", [_number_conflict(foreign)]
    others = [t for t in holders if not _mine(t.metadata, clinic_id) and owner_of(t.metadata)]
    reason = f"numbers {', '.join(spec.numbers)}"
    if others:
        reason += " (another clinic's trunk still holds one of them: reconcile will wait)"
    return NEW_TRUNK, [Step(CREATE_TRUNK, "trunk", reason=reason)]


def _foreign_numbers(spec: TrunkSpec, observed: Observed, exclude: str = "") -> list[str]:
    """Our numbers that LiveKit routes to a trunk without our marker."""
    taken = {
        n
        for t in observed.trunks_on_numbers
        if t.trunk_id != exclude and owner_of(t.metadata) is None
        for n in t.numbers
    }
    return sorted(taken & set(spec.numbers))


def _number_conflict(numbers: list[str]) -> Step:
    return Step(
        BLOCKED,
        "trunk",
        reason=f"LiveKit already routes {', '.join(numbers)} to a trunk that Switchboard does "
        "not manage; reconcile would fail here. Remove that trunk in LiveKit, or the number "
        "here.",
    )


def _rule_steps(
    prov: Provisioning, spec: RuleSpec, observed: Observed, clinic_id: str
) -> list[Step]:
    if prov.dispatch_rule_id and observed.rule is not None:
        if not _mine(observed.rule.metadata, clinic_id):
            return [_foreign("rule", prov.dispatch_rule_id)]
        changed = diff_fields(spec, observed.rule.as_spec())
        if not changed:
            return []
        reason = "LiveKit differs from Switchboard"
        if spec.trunk_ids == (NEW_TRUNK,):
            reason = "point it at the new trunk"
        return [Step(UPDATE_RULE, "rule", prov.dispatch_rule_id, reason, changed)]
    steps: list[Step] = []
    if prov.dispatch_rule_id:
        steps.append(Step(FORGET, "rule", prov.dispatch_rule_id, "missing from LiveKit"))
    on_trunk = [r for r in observed.rules_on_trunk if set(r.trunk_ids) & set(spec.trunk_ids)]
    mine = sorted((r for r in on_trunk if _mine(r.metadata, clinic_id)), key=lambda r: r.rule_id)
    if mine:
        keep = mine[0]
        steps.append(Step(ADOPT_RULE, "rule", keep.rule_id, "ours, from an earlier create"))
        steps += [Step(DELETE_RULE, "rule", d.rule_id, "duplicate of ours") for d in mine[1:]]
        changed = diff_fields(spec, keep.as_spec())
        if changed:
            steps.append(Step(UPDATE_RULE, "rule", keep.rule_id, "adopted rule differs", changed))
        return steps
    if any(owner_of(r.metadata) is None for r in on_trunk):
        steps.append(
            Step(
                BLOCKED,
                "rule",
                reason="LiveKit has a dispatch rule on this clinic's trunk that Switchboard "
                "does not manage; the create would fail.",
            )
        )
        return steps
    steps.append(Step(CREATE_RULE, "rule", reason=f"room prefix {spec.room_prefix}"))
    return steps


def _foreign(kind: str, object_id: str) -> Step:
    return Step(
        BLOCKED,
        kind,
        object_id,
        f"the stored {kind} is not marked as this clinic's in LiveKit; reconcile will not "
        "touch it. An operator must check it.",
    )


def _why_no_rule(desired: DesiredState) -> str:
    state = desired.clinic.state
    if state == "suspended":
        return "suspended: calls stop, the trunk and all data stay"
    if state == "offboarded":
        return "offboarded"
    if not desired.numbers:
        return "no numbers left"
    return f"clinic is {state}"


def _why_no_trunk(desired: DesiredState) -> str:
    return "offboarded" if desired.clinic.is_offboarded else "no numbers left"


def plan_clinic(clinic_id: Any, gateway: Any = None) -> Plan:
    """Observe LiveKit and plan. Never writes; LiveKit errors become `Plan.error`."""
    from telephony.livekit_gateway import LiveKitError, get_gateway

    prov = Provisioning.objects.get(clinic_id=clinic_id)
    desired = load_desired(clinic_id)
    try:
        observed = observe(prov, desired, gateway or get_gateway())
    except LiveKitError as exc:
        return Plan(str(clinic_id), desired.generation, (), error=exc.sentence)
    return plan(prov, desired, observed)
