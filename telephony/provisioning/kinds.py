"""Kinds of upstream objects, as plug-ins of the engine (decisions/0011).

The planner and executor know nothing about trunks or rules: they ask a kind whether it is
wanted, for its spec, how to find the objects that hold its keys (the numbers of a trunk,
the trunks of a rule), how to call upstream and which model columns hold its record.
LiveKit's inbound trunk and dispatch rules (a rule per line: decision 0085) are two
kinds; the clinic's carrier trunk (carrier_kind.py) is the third. Each kind names its own
client (`client`): LiveKit's kinds use the clinic's LiveKit gateway, the carrier's the
clinic's carrier account.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, ClassVar, Protocol

from telephony.livekit_gateway import (
    LiveKitGateway,
    PendingCall,
    RemoteRule,
    RemoteTrunk,
    RuleSpec,
    TrunkSpec,
)
from telephony.models import Provisioning
from telephony.provisioning.actions import PENDING_ID, Record, Slot
from telephony.provisioning.carrier_kind import CarrierTrunkKind
from telephony.provisioning.desired import DesiredState, line_of, spec_hash


class Kind(Protocol):
    """What the engine needs from a kind of upstream object.

    A kind has one or more instances per clinic, told apart by a key: "" for the single
    instance of the trunk, the trunk-wide rule's "", and a receptionist's id for each
    numbered line's rule (decision 0085). Records are per instance; `footprint` is what two
    objects of the kind may not share upstream (a trunk's numbers; a rule's trunk and called
    numbers, "*" for any), which decides who blocks whom.
    """

    name: str  # "trunk", "rule": also the suffix of its event names
    depends_on: tuple[str, ...]  # kinds whose IDs its spec needs (created first)
    wait_for_other_clinics: bool  # another clinic holding a key: wait (True) or conflict
    concurrent: bool  # creates have a concurrent form (start_create) for the batch
    upstream: str  # where its objects live, for sentences ("LiveKit", "the carrier")

    def client(self, clinic_id: Any, livekit: LiveKitGateway) -> Any: ...  # what it calls
    def instances(self, desired: DesiredState) -> tuple[str, ...]: ...  # wanted keys
    def spec(self, desired: DesiredState, ids: Mapping[str, str], key: str = "") -> Any: ...
    def keys(self, spec: Any) -> tuple[str, ...]: ...  # what holders are listed by
    def footprint(self, spec: Any) -> frozenset[Any]: ...
    def holds(self, spec: Any) -> tuple[str, ...]: ...  # kept in the record (Record.holds)
    def key_of(self, remote: Any) -> str: ...  # the instance an object of ours is for
    def intent_keys(
        self, desired: DesiredState, record: Record, ids: Mapping[str, str]
    ) -> tuple[str, ...]: ...
    def records(self, prov: Provisioning, lines: Mapping[str, Any]) -> dict[str, Record]: ...
    def stored(
        self, object_id: str, applied_hash: str, key: str = "", holds: tuple[str, ...] = ()
    ) -> dict[str, Any]: ...
    def intent(self, spec: Any, now: Any, key: str = "") -> dict[str, Any]: ...
    def no_intent(self, key: str = "") -> dict[str, Any]: ...
    def object_id(self, remote: Any) -> str: ...
    def list_by_id(self, gw: Any, object_id: str) -> list[Any]: ...
    def list_holders(self, gw: Any, keys: tuple[str, ...]) -> list[Any]: ...
    def create(self, gw: Any, spec: Any) -> Any: ...
    def start_create(self, gw: Any, spec: Any, **kw: Any) -> PendingCall[Any]: ...
    def update(self, gw: Any, object_id: str, spec: Any) -> Any: ...
    def delete(self, gw: Any, object_id: str) -> None: ...
    def conflict_sentence(self, spec: Any, holders: list[Any]) -> str: ...
    def wait_sentence(self) -> str: ...
    def describe(self, spec: Any) -> str: ...  # a create, for the dry run
    def created_detail(self, remote: Any, spec: Any) -> str: ...
    def updated_detail(self, object_id: str, spec: Any) -> str: ...


# A line's record, in LineRule's columns (the trunk-wide rule's are Provisioning's).
LINE_FIELDS = ("rule_id", "applied_hash", "numbers", "intent", "intent_at")


class _Columns:
    """A kind whose single instance's record lives in columns of the clinic's Provisioning
    row."""

    concurrent = True  # creates have a concurrent form (the batch, decisions/0046)
    upstream = "LiveKit"

    def client(self, clinic_id: Any, livekit: LiveKitGateway) -> LiveKitGateway:
        return livekit

    id_field: ClassVar[str]
    hash_field: ClassVar[str]
    intent_field: ClassVar[str]
    intent_at_field: ClassVar[str]

    def stored(
        self, object_id: str, applied_hash: str, key: str = "", holds: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        return {self.id_field: object_id, self.hash_field: applied_hash}

    def no_intent(self, key: str = "") -> dict[str, Any]:
        return {self.intent_field: None, self.intent_at_field: None}

    def keys(self, spec: Any) -> tuple[str, ...]:
        raise NotImplementedError

    def footprint(self, spec: Any) -> frozenset[Any]:
        return frozenset(self.keys(spec))

    def holds(self, spec: Any) -> tuple[str, ...]:
        return ()

    def key_of(self, remote: Any) -> str:
        return line_of(remote.metadata)

    def _record(self, prov: Provisioning, keys: tuple[str, ...] = ()) -> Record:
        return Record(
            object_id=getattr(prov, self.id_field),
            applied_hash=getattr(prov, self.hash_field),
            intent=getattr(prov, self.intent_field) is not None,
            intent_keys=keys,
        )


class LiveKitTrunk(_Columns):
    """The clinic's inbound trunk: keyed by its numbers (one number, one trunk)."""

    name = "trunk"
    depends_on: tuple[str, ...] = ()
    wait_for_other_clinics = True  # a number another clinic is releasing
    id_field, hash_field = "trunk_id", "trunk_applied_hash"
    intent_field, intent_at_field = "trunk_intent", "trunk_intent_at"

    def instances(self, desired: DesiredState) -> tuple[str, ...]:
        return ("",) if desired.trunk_wanted else ()

    def spec(self, desired: DesiredState, ids: Mapping[str, str], key: str = "") -> TrunkSpec:
        return desired.trunk()

    def keys(self, spec: Any) -> tuple[str, ...]:
        return tuple(spec.numbers)

    def intent_keys(
        self, desired: DesiredState, record: Record, ids: Mapping[str, str]
    ) -> tuple[str, ...]:
        return tuple(sorted(set(record.intent_keys) | set(desired.numbers)))

    def records(self, prov: Provisioning, lines: Mapping[str, Any]) -> dict[str, Record]:
        return {"": self._record(prov, tuple(prov.trunk_intent_numbers))}

    def intent(self, spec: Any, now: Any, key: str = "") -> dict[str, Any]:
        return {
            "trunk_intent": uuid.uuid4(),
            "trunk_intent_numbers": list(spec.numbers),
            "trunk_intent_at": now,
        }

    def no_intent(self, key: str = "") -> dict[str, Any]:
        return {**super().no_intent(), "trunk_intent_numbers": []}

    def object_id(self, remote: Any) -> str:
        return str(remote.trunk_id)

    def list_by_id(self, gw: LiveKitGateway, object_id: str) -> list[RemoteTrunk]:
        return gw.list_inbound_trunks(trunk_ids=[object_id])

    def list_holders(self, gw: LiveKitGateway, keys: tuple[str, ...]) -> list[RemoteTrunk]:
        found = gw.list_inbound_trunks(numbers=list(keys))
        return [t for t in found if set(t.numbers) & set(keys)]

    def create(self, gw: LiveKitGateway, spec: Any) -> RemoteTrunk:
        return gw.create_inbound_trunk(spec)

    def start_create(self, gw: LiveKitGateway, spec: Any, **kw: Any) -> PendingCall[Any]:
        return gw.start_create_inbound_trunk(spec, **kw)

    def update(self, gw: LiveKitGateway, object_id: str, spec: Any) -> RemoteTrunk:
        return gw.replace_inbound_trunk(object_id, spec)

    def delete(self, gw: LiveKitGateway, object_id: str) -> None:
        gw.delete_trunk(object_id)

    def conflict_sentence(self, spec: Any, holders: list[Any]) -> str:
        taken = sorted({n for t in holders for n in t.numbers} & set(spec.numbers))
        return (
            f"LiveKit already routes {', '.join(taken) or 'one of these numbers'} to a trunk "
            "that Switchboard does not manage. Remove that trunk in LiveKit, or remove the "
            "number here, then press Retry."
        )

    def wait_sentence(self) -> str:
        return (
            "A number is still held by another clinic's trunk that is being updated; "
            "retrying shortly."
        )

    def describe(self, spec: Any) -> str:
        return f"numbers {', '.join(spec.numbers)}"

    def created_detail(self, remote: Any, spec: Any) -> str:
        return f"{remote.trunk_id} with {', '.join(spec.numbers)}"

    def updated_detail(self, object_id: str, spec: Any) -> str:
        return f"numbers {', '.join(spec.numbers)}"


class LiveKitRule(_Columns):
    """The clinic's dispatch rules, all bound to its trunk: the first receptionist's
    trunk-wide rule (key "", recorded on Provisioning) and one per other receptionist with
    numbers (key: its id, recorded in LineRule), restricted to those numbers. Listed by the
    trunk; two rules clash when they share the trunk and a called number, or are both
    trunk-wide (LiveKit's conflict rule, docs/livekit-sip.md §4.3)."""

    name = "rule"
    depends_on: tuple[str, ...] = ("trunk",)
    wait_for_other_clinics = False
    id_field, hash_field = "dispatch_rule_id", "rule_applied_hash"
    intent_field, intent_at_field = "rule_intent", "rule_intent_at"

    def instances(self, desired: DesiredState) -> tuple[str, ...]:
        if not desired.rule_wanted:
            return ()
        return ("", *desired.lines())

    def spec(self, desired: DesiredState, ids: Mapping[str, str], key: str = "") -> RuleSpec:
        return desired.rule(ids.get("trunk") or PENDING_ID, key)

    def keys(self, spec: Any) -> tuple[str, ...]:
        return tuple(spec.trunk_ids)

    def footprint(self, spec: Any) -> frozenset[Any]:
        return frozenset((t, n) for t in spec.trunk_ids for n in (spec.numbers or ("*",)))

    def holds(self, spec: Any) -> tuple[str, ...]:
        return tuple(spec.numbers)

    def intent_keys(
        self, desired: DesiredState, record: Record, ids: Mapping[str, str]
    ) -> tuple[str, ...]:
        trunk_id = ids.get("trunk", "")
        return (trunk_id,) if trunk_id and trunk_id != PENDING_ID else ()

    def records(self, prov: Provisioning, lines: Mapping[str, Any]) -> dict[str, Record]:
        out = {"": self._record(prov)}
        for key, line in lines.items():
            out[key] = Record(
                object_id=line.rule_id,
                applied_hash=line.applied_hash,
                intent=line.intent is not None,
                holds=tuple(line.numbers),
            )
        return out

    def stored(
        self, object_id: str, applied_hash: str, key: str = "", holds: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        if not key:
            return super().stored(object_id, applied_hash)
        return {"rule_id": object_id, "applied_hash": applied_hash, "numbers": list(holds)}

    def intent(self, spec: Any, now: Any, key: str = "") -> dict[str, Any]:
        if key:
            return {"intent": uuid.uuid4(), "intent_at": now}
        return {"rule_intent": uuid.uuid4(), "rule_intent_at": now}

    def no_intent(self, key: str = "") -> dict[str, Any]:
        if key:
            return {"intent": None, "intent_at": None}
        return super().no_intent()

    def object_id(self, remote: Any) -> str:
        return str(remote.rule_id)

    def list_by_id(self, gw: LiveKitGateway, object_id: str) -> list[RemoteRule]:
        return gw.list_dispatch_rules(rule_ids=[object_id])

    def list_holders(self, gw: LiveKitGateway, keys: tuple[str, ...]) -> list[RemoteRule]:
        found = gw.list_dispatch_rules(trunk_ids=list(keys))
        return [r for r in found if set(r.trunk_ids) & set(keys)]

    def create(self, gw: LiveKitGateway, spec: Any) -> RemoteRule:
        return gw.create_dispatch_rule(spec)

    def start_create(self, gw: LiveKitGateway, spec: Any, **kw: Any) -> PendingCall[Any]:
        return gw.start_create_dispatch_rule(spec, **kw)

    def update(self, gw: LiveKitGateway, object_id: str, spec: Any) -> RemoteRule:
        return gw.replace_dispatch_rule(object_id, spec)

    def delete(self, gw: LiveKitGateway, object_id: str) -> None:
        gw.delete_dispatch_rule(object_id)

    def conflict_sentence(self, spec: Any, holders: list[Any]) -> str:
        if spec.numbers:
            return (
                f"LiveKit already has a dispatch rule for {', '.join(spec.numbers)} on this "
                "clinic's trunk that Switchboard does not manage. Remove it in LiveKit, then "
                "press Retry."
            )
        return (
            "LiveKit already has a dispatch rule for this clinic's trunk that Switchboard "
            "does not manage. Remove it in LiveKit, then press Retry."
        )

    def wait_sentence(self) -> str:
        return "Another clinic's dispatch rule is bound to this trunk; retrying shortly."

    def describe(self, spec: Any) -> str:
        return f"room prefix {spec.room_prefix}{_for(spec)}"

    def created_detail(self, remote: Any, spec: Any) -> str:
        return f"{remote.rule_id} prefix {spec.room_prefix}{_for(spec)}"

    def updated_detail(self, object_id: str, spec: Any) -> str:
        return f"{object_id} prefix {spec.room_prefix}{_for(spec)}"


def _for(spec: RuleSpec) -> str:
    return f" for {', '.join(spec.numbers)}" if spec.numbers else ""


# In dependency order: a kind comes after the kinds its spec needs.
# The carrier comes last: no call is routed to LiveKit before its trunk and rule exist.
KINDS: tuple[Kind, ...] = (LiveKitTrunk(), LiveKitRule(), CarrierTrunkKind())
BY_NAME: dict[str, Kind] = {kind.name: kind for kind in KINDS}


def records_of(prov: Any, lines: Mapping[str, Any] | None = None) -> dict[Slot, Record]:
    """Every instance's record: the clinic's provisioning row, and its lines' rows (LineRule
    rows, or anything with their fields, by line key)."""
    return {
        (kind.name, key): record
        for kind in KINDS
        for key, record in kind.records(prov, lines or {}).items()
    }


__all__ = [
    "BY_NAME",
    "KINDS",
    "LINE_FIELDS",
    "CarrierTrunkKind",
    "Kind",
    "LiveKitRule",
    "LiveKitTrunk",
    "records_of",
    "spec_hash",
]
