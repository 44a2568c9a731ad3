"""The planner: desired state + records + observations -> ordered actions. Pure: no I/O.

This is the one table of provisioning's rules (decisions/0011):

- kinds that are no longer wanted are removed first, in reverse dependency order (the rules
  before their trunk, the numbered lines' rules before the trunk-wide one): the stored
  object is deleted (or forgotten when already gone); an unconfirmed create is looked for
  by its keys and whatever of ours it left is deleted;
- then wanted kinds are brought up, in dependency order: a stored object is updated when it
  differs (by the applied-spec hash, or field by field when observed); without one, an
  object of ours for the same instance holding the keys is adopted (its duplicates
  deleted), a holder without our marker is a conflict, another clinic's holder means
  waiting, and otherwise it is created;
- a kind with several instances (a rule per line, decision 0085) brings up its "" instance
  first (the trunk-wide rule, which answers every number no line names), then removes the
  instances no longer wanted and shrinks those that give something up, and only then
  grows and creates: a number leaving a line falls to the trunk-wide rule, never to
  nothing, and a line takes a number on only once no other line holds it;
- an object is only ever adopted, changed or deleted when it carries our marker for this
  clinic; offboarded clinics release their numbers last.

`verify` plans from observations only (the dry run and "re-provision now"): a fact it has
not got becomes an OBSERVE action and planning stops there; the caller reads and plans
again. Without `verify` stored objects are trusted by their applied-spec hash and upstream
is read only where a create's reply was lost or a write was refused.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import fields, replace
from typing import Any

from telephony.provisioning.actions import (
    ADOPT,
    BY_ID,
    CLEAR_INTENT,
    CONFLICT,
    CREATE,
    DELETE,
    DUPLICATE,
    FOREIGN,
    FORGET,
    HOLDERS,
    OBSERVE,
    PENDING_ID,
    RECORD_HASH,
    REJECTED,
    RELEASE_NUMBERS,
    UNCONFIRMED,
    UPDATE,
    WAIT,
    Action,
    Observed,
    Record,
    Slot,
)
from telephony.provisioning.desired import DesiredState, owner_of, spec_hash
from telephony.provisioning.kinds import KINDS, Kind, records_of

_UNKNOWN = object()


class _Stop(Exception):
    """Nothing can be planned after the last action (a blocker, or a missing fact)."""


def plan(
    desired: DesiredState,
    records: Mapping[Slot, Record],
    observed: Observed,
    *,
    verify: bool = False,
) -> list[Action]:
    """The actions that bring upstream from what is recorded/observed to `desired`."""
    planner = _Planner(desired, records, observed, verify)
    with contextlib.suppress(_Stop):
        planner.run()
    return planner.actions


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


class _Planner:
    def __init__(
        self,
        desired: DesiredState,
        records: Mapping[Slot, Record],
        observed: Observed,
        verify: bool,
    ) -> None:
        self.desired = desired
        self.clinic_id = str(desired.clinic.pk)
        self.records = dict(records)  # simulated: each planned action's effect on the record
        self.observed = observed
        self.verify = verify
        self.rejected = set(observed.rejected)
        self.ids = {name: r.object_id for (name, key), r in records.items() if not key}
        self.deleted: set[tuple[str, str]] = set()  # planned deletes, gone from listings
        self.planned: dict[tuple[str, str], Any] = {}  # (kind, ID) -> the spec it is updated to
        self.actions: list[Action] = []

    def run(self) -> None:
        for kind in reversed(KINDS):
            if not kind.instances(self.desired):
                for key in sorted(self._keys(kind), key=lambda k: (not k, k)):
                    self._remove(kind, key, self._why_not())
        for kind in KINDS:
            wanted = kind.instances(self.desired)
            if wanted:
                self._ensure_all(kind, wanted)
        if self.desired.clinic.is_offboarded and self.desired.numbers:
            n = len(self.desired.numbers)
            self._add(RELEASE_NUMBERS, "numbers", reason=f"{n} number(s) freed for other clinics")

    def _ensure_all(self, kind: Kind, wanted: tuple[str, ...]) -> None:
        """The "" instance, then what gives up keys, then what takes keys on."""
        if "" in wanted:
            self._ensure(kind, "", kind.spec(self.desired, self.ids, ""))
        for key in sorted(k for k in self._keys(kind) if k and k not in wanted):
            self._remove(kind, key, "no numbers on this line any more")
        specs = {key: kind.spec(self.desired, self.ids, key) for key in sorted(wanted) if key}
        for key, spec in specs.items():
            self._shrink(kind, key, spec)
        for key, spec in specs.items():
            self._ensure(kind, key, spec)

    # --- helpers --------------------------------------------------------------------------

    def _keys(self, kind: Kind) -> list[str]:
        """The instances of `kind` recorded with an object or an intent."""
        return [
            key
            for (name, key), r in self.records.items()
            if name == kind.name and (r.object_id or r.intent)
        ]

    def _add(self, op: str, kind: str, **kw: Any) -> None:
        action = Action(op, kind, **kw)
        if op == DELETE:
            self.deleted.add((kind, action.object_id))
        if op == UPDATE:
            self.planned[(kind, action.object_id)] = action.spec
        self.actions.append(action)

    def _stop(self, op: str, kind: str, **kw: Any) -> None:
        self._add(op, kind, **kw)
        raise _Stop

    def _mine(self, kind: Kind, key: str, remote: Any) -> bool:
        """Ours, for this clinic and this instance of the kind."""
        return owner_of(remote.metadata) == self.clinic_id and kind.key_of(remote) == key

    def _set(self, kind: Kind, key: str, **changes: Any) -> None:
        record = replace(self.records.get((kind.name, key), Record()), **changes)
        self.records[(kind.name, key)] = record
        if not key:
            self.ids[kind.name] = record.object_id

    def _stored(self, kind: Kind, object_id: str) -> Any:
        """The stored object as observed (None: gone), or _UNKNOWN when trusting hashes
        (or when this plan already updates it: its record then holds what is written)."""
        if not self.verify or (kind.name, object_id) in self.planned:
            return _UNKNOWN
        key = (kind.name, object_id)
        if key not in self.observed.by_id:
            self._stop(OBSERVE, kind.name, object_id=object_id, read=BY_ID)
        return self.observed.by_id[key]

    def _holders(self, kind: Kind, keys: Sequence[str]) -> tuple[Any, ...]:
        """Every object of this kind that holds one of `keys` (whoever's)."""
        if not keys or PENDING_ID in keys:
            return ()  # nothing holds an object that is still to be created
        query = tuple(sorted(set(keys)))
        found = self.observed.holders.get((kind.name, query))
        if found is None:
            self._stop(OBSERVE, kind.name, read=HOLDERS, keys=query)
        deleted = self.deleted
        return tuple(h for h in found or () if (kind.name, kind.object_id(h)) not in deleted)

    def _footprint(self, kind: Kind, remote: Any) -> frozenset[Any]:
        """What an object claims once this plan's updates are made."""
        planned = self.planned.get((kind.name, kind.object_id(remote)))
        return kind.footprint(planned if planned is not None else remote)

    # --- not wanted -----------------------------------------------------------------------

    def _remove(self, kind: Kind, key: str, why: str) -> None:
        record = self.records[(kind.name, key)]
        if record.object_id:
            found = self._stored(kind, record.object_id)
            if found is None:
                gone = f"already gone from {kind.upstream}"
                self._add(FORGET, kind.name, object_id=record.object_id, key=key, reason=gone)
            elif found is not _UNKNOWN and owner_of(found.metadata) != self.clinic_id:
                self._foreign(kind, record.object_id)
            else:
                self._add(DELETE, kind.name, object_id=record.object_id, key=key, reason=why)
            self._set(kind, key, object_id="", applied_hash="", holds=())
        elif record.intent:
            keys = kind.intent_keys(self.desired, record, self.ids)
            for holder in self._holders(kind, keys):
                if self._mine(kind, key, holder):
                    oid = kind.object_id(holder)
                    self._add(DELETE, kind.name, object_id=oid, key=key, role=UNCONFIRMED)
            self._add(CLEAR_INTENT, kind.name, key=key, reason="an unconfirmed create")
            self._set(kind, key, intent=False, intent_keys=())

    def _why_not(self) -> str:
        clinic = self.desired.clinic
        if clinic.is_offboarded:
            return "offboarded"
        if clinic.state == "suspended":
            return "suspended: calls stop, the trunk and all data stay"
        if not self.desired.numbers:
            return "no numbers left"
        return f"clinic is {clinic.state}"

    def _foreign(self, kind: Kind, object_id: str) -> None:
        self._stop(
            FOREIGN,
            kind.name,
            object_id=object_id,
            reason=f"The {kind.name} {object_id} in {kind.upstream} is not marked as this "
            "clinic's; an operator must check it.",
        )

    # --- wanted ---------------------------------------------------------------------------

    def _shrink(self, kind: Kind, key: str, spec: Any) -> None:
        """Before any instance takes keys on: give up what this one holds and should not
        (deleted when it keeps nothing; created again afterwards)."""
        record = self.records.get((kind.name, key), Record())
        if not record.object_id:
            return
        held = record.holds
        if self.verify:
            found = self._stored(kind, record.object_id)
            if found is None or (found is not _UNKNOWN and not self._mine(kind, key, found)):
                return  # _ensure forgets or stops
            if found is not _UNKNOWN:
                held = kind.holds(found)
        wanted = set(kind.holds(spec))
        if set(held) <= wanted:
            return
        keep = tuple(sorted(set(held) & wanted))
        if not keep:
            why = "its numbers move to another line; created again with its new ones"
            self._add(DELETE, kind.name, object_id=record.object_id, key=key, reason=why)
            self._set(kind, key, object_id="", applied_hash="", holds=())
            return
        interim = replace(spec, numbers=keep)
        why = "gives up numbers before another line takes them on"
        self._update(kind, key, record.object_id, interim, reason=why)

    def _ensure(self, kind: Kind, key: str, spec: Any) -> None:
        record = self.records.get((kind.name, key), Record())
        self.records[(kind.name, key)] = record
        if record.object_id:
            found = self._stored(kind, record.object_id)
            if found is _UNKNOWN:
                return self._by_hash(kind, key, record, spec)
            if found is not None:
                return self._existing(kind, key, record, spec, found)
            self._add(
                FORGET, kind.name, object_id=record.object_id, key=key, reason="missing; recreating"
            )
            self._set(kind, key, object_id="", applied_hash="", holds=())
            record = self.records[(kind.name, key)]
        self._create_or_adopt(kind, key, record, spec)

    def _by_hash(self, kind: Kind, key: str, record: Record, spec: Any) -> None:
        """Trusting the record: update when the applied spec is not the wanted one."""
        if (kind.name, key) in self.rejected:
            holders = self._holders(kind, kind.keys(spec))
            self._blockers(kind, key, spec, holders, record.object_id)
            self._stop(REJECTED, kind.name, object_id=record.object_id, key=key)
        if record.applied_hash != spec_hash(spec):
            self._update(kind, key, record.object_id, spec, reason="Switchboard changed it")

    def _existing(self, kind: Kind, key: str, record: Record, spec: Any, remote: Any) -> None:
        """The stored object as observed: ours, and updated field by field if it differs."""
        if owner_of(remote.metadata) != self.clinic_id:
            self._foreign(kind, record.object_id)
        changes = diff_fields(spec, remote.as_spec())
        if not changes:
            if record.applied_hash != spec_hash(spec):
                self._add(RECORD_HASH, kind.name, object_id=record.object_id, key=key, spec=spec)
                self._set(kind, key, applied_hash=spec_hash(spec), holds=kind.holds(spec))
            return
        rejected = (kind.name, key) in self.rejected
        if kind.footprint(spec) - kind.footprint(remote) or rejected:
            # The write could be refused for a holder of what it takes on.
            holders = self._holders(kind, kind.keys(spec))
            self._duplicates(kind, key, holders, keep=record.object_id)
            self._blockers(kind, key, spec, holders, record.object_id)
            if rejected:
                self._stop(REJECTED, kind.name, object_id=record.object_id, key=key)
        why = f"{kind.upstream} differs from Switchboard"
        if PENDING_ID in kind.keys(spec):
            why = "point it at the new trunk"
        self._update(kind, key, record.object_id, spec, reason=why, remote=remote, changes=changes)

    def _update(self, kind: Kind, key: str, object_id: str, spec: Any, **kw: Any) -> None:
        self._add(UPDATE, kind.name, object_id=object_id, key=key, spec=spec, **kw)
        self._set(kind, key, applied_hash=spec_hash(spec), holds=kind.holds(spec))

    def _create_or_adopt(self, kind: Kind, key: str, record: Record, spec: Any) -> None:
        keys = kind.keys(spec)
        rejected = (kind.name, key) in self.rejected
        if record.intent or rejected or self.verify:
            holders = self._holders(kind, sorted(set(keys) | set(record.intent_keys)))
            mine = sorted((h for h in holders if self._mine(kind, key, h)), key=kind.object_id)
            if mine:
                return self._adopt(kind, key, spec, mine)
            self._blockers(kind, key, spec, holders, "")
            if rejected:
                self._stop(REJECTED, kind.name, key=key)
        self._add(CREATE, kind.name, key=key, spec=spec, reason=kind.describe(spec))
        self._set(
            kind,
            key,
            object_id=PENDING_ID,
            applied_hash=spec_hash(spec),
            intent=False,
            holds=kind.holds(spec),
        )

    def _adopt(self, kind: Kind, key: str, spec: Any, mine: list[Any]) -> None:
        keep = mine[0]
        oid = kind.object_id(keep)
        same = not diff_fields(spec, keep.as_spec())
        self._add(ADOPT, kind.name, object_id=oid, key=key, remote=keep, spec=spec, reason="ours")
        self._duplicates(kind, key, mine, keep=oid)
        self._set(
            kind,
            key,
            object_id=oid,
            applied_hash=spec_hash(spec) if same else "",
            intent=False,
            intent_keys=(),
            holds=kind.holds(keep),
        )
        self.rejected.discard((kind.name, key))
        record = self.records[(kind.name, key)]
        if self.verify:
            self._existing(kind, key, record, spec, keep)
        else:
            self._by_hash(kind, key, record, spec)

    def _duplicates(self, kind: Kind, key: str, holders: Sequence[Any], *, keep: str) -> None:
        for holder in holders:
            oid = kind.object_id(holder)
            if oid != keep and self._mine(kind, key, holder):
                self._add(
                    DELETE, kind.name, object_id=oid, key=key, role=DUPLICATE, reason="ours too"
                )

    def _blockers(
        self, kind: Kind, key: str, spec: Any, holders: Sequence[Any], exclude: str
    ) -> None:
        """Stop at a holder of what the spec claims that is not this instance's. One of this
        clinic's that no record claims (left by a line whose record is gone) is deleted."""
        claims = kind.footprint(spec)
        others = [
            h
            for h in holders
            if kind.object_id(h) != exclude
            and not self._mine(kind, key, h)
            and self._footprint(kind, h) & claims
        ]
        foreign = [h for h in others if owner_of(h.metadata) is None]
        clinics = [h for h in others if owner_of(h.metadata) not in (None, self.clinic_id)]
        if foreign or (clinics and not kind.wait_for_other_clinics):
            self._stop(CONFLICT, kind.name, reason=kind.conflict_sentence(spec, foreign or clinics))
        recorded = {r.object_id for (name, _), r in self.records.items() if name == kind.name}
        for h in others:
            oid = kind.object_id(h)
            if owner_of(h.metadata) == self.clinic_id and oid not in recorded:
                why = "ours, for a line that no longer has it"
                self._add(DELETE, kind.name, object_id=oid, role=DUPLICATE, reason=why)
        if clinics or any(kind.object_id(h) in recorded for h in others):
            self._stop(WAIT, kind.name, key=key, reason=kind.wait_sentence())


__all__ = ["diff_fields", "plan", "records_of"]
