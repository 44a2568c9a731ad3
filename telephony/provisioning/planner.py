"""The planner: desired state + records + observations -> ordered actions. Pure: no I/O.

This is the one table of provisioning's rules (decisions/0011):

- kinds that are no longer wanted are removed first, in reverse dependency order (the rule
  before its trunk): the stored object is deleted (or forgotten when already gone); an
  unconfirmed create is looked for by its keys and whatever of ours it left is deleted;
- then wanted kinds are brought up, in dependency order: a stored object is updated when it
  differs (by the applied-spec hash, or field by field when observed); without one, an
  object of ours holding the keys is adopted (its duplicates deleted), a holder without our
  marker is a conflict, another clinic's holder means waiting, and otherwise it is created;
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
)
from telephony.provisioning.desired import DesiredState, owner_of, spec_hash
from telephony.provisioning.kinds import KINDS, Kind

_UNKNOWN = object()


class _Stop(Exception):
    """Nothing can be planned after the last action (a blocker, or a missing fact)."""


def plan(
    desired: DesiredState,
    records: Mapping[str, Record],
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
        self, desired: DesiredState, records: Mapping[str, Record], observed: Observed, verify: bool
    ) -> None:
        self.desired = desired
        self.clinic_id = str(desired.clinic.pk)
        self.records = dict(records)  # simulated: each planned action's effect on the record
        self.observed = observed
        self.verify = verify
        self.rejected = set(observed.rejected)
        self.ids = {name: record.object_id for name, record in records.items()}
        self.deleted: set[tuple[str, str]] = set()  # planned deletes, gone from listings
        self.actions: list[Action] = []

    def run(self) -> None:
        for kind in reversed(KINDS):
            if not kind.wanted(self.desired):
                self._remove(kind)
        for kind in KINDS:
            if kind.wanted(self.desired):
                self._ensure(kind)
        if self.desired.clinic.is_offboarded and self.desired.numbers:
            n = len(self.desired.numbers)
            self._add(RELEASE_NUMBERS, "numbers", reason=f"{n} number(s) freed for other clinics")

    # --- helpers --------------------------------------------------------------------------

    def _add(self, op: str, kind: str, **kw: Any) -> None:
        action = Action(op, kind, **kw)
        if op == DELETE:
            self.deleted.add((kind, action.object_id))
        self.actions.append(action)

    def _stop(self, op: str, kind: str, **kw: Any) -> None:
        self._add(op, kind, **kw)
        raise _Stop

    def _mine(self, remote: Any) -> bool:
        return owner_of(remote.metadata) == self.clinic_id

    def _set(self, kind: Kind, **changes: Any) -> None:
        record = replace(self.records[kind.name], **changes)
        self.records[kind.name] = record
        self.ids[kind.name] = record.object_id

    def _stored(self, kind: Kind, object_id: str) -> Any:
        """The stored object as observed (None: gone), or _UNKNOWN when trusting hashes."""
        if not self.verify:
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

    # --- not wanted -----------------------------------------------------------------------

    def _remove(self, kind: Kind) -> None:
        record = self.records[kind.name]
        if record.object_id:
            found = self._stored(kind, record.object_id)
            if found is None:
                gone = f"already gone from {kind.upstream}"
                self._add(FORGET, kind.name, object_id=record.object_id, reason=gone)
            elif found is not _UNKNOWN and not self._mine(found):
                self._foreign(kind, record.object_id)
            else:
                self._add(DELETE, kind.name, object_id=record.object_id, reason=self._why_not())
            self._set(kind, object_id="", applied_hash="")
        elif record.intent:
            keys = kind.intent_keys(self.desired, record, self.ids)
            for holder in self._holders(kind, keys):
                if self._mine(holder):
                    oid = kind.object_id(holder)
                    self._add(DELETE, kind.name, object_id=oid, role=UNCONFIRMED)
            self._add(CLEAR_INTENT, kind.name, reason="an unconfirmed create")
            self._set(kind, intent=False, intent_keys=())

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

    def _ensure(self, kind: Kind) -> None:
        record = self.records[kind.name]
        spec = kind.spec(self.desired, self.ids)
        if record.object_id:
            found = self._stored(kind, record.object_id)
            if found is _UNKNOWN:
                return self._by_hash(kind, record, spec)
            if found is not None:
                return self._existing(kind, record, spec, found)
            self._add(FORGET, kind.name, object_id=record.object_id, reason="missing; recreating")
            self._set(kind, object_id="", applied_hash="")
            record = self.records[kind.name]
        self._create_or_adopt(kind, record, spec)

    def _by_hash(self, kind: Kind, record: Record, spec: Any) -> None:
        """Trusting the record: update when the applied spec is not the wanted one."""
        if kind.name in self.rejected:
            self._blockers(kind, spec, self._holders(kind, kind.keys(spec)), record.object_id)
            self._stop(REJECTED, kind.name, object_id=record.object_id)
        if record.applied_hash != spec_hash(spec):
            self._update(kind, record.object_id, spec, reason="Switchboard changed it")

    def _existing(self, kind: Kind, record: Record, spec: Any, remote: Any) -> None:
        """The stored object as observed: ours, and updated field by field if it differs."""
        if not self._mine(remote):
            self._foreign(kind, record.object_id)
        changes = diff_fields(spec, remote.as_spec())
        if not changes:
            if record.applied_hash != spec_hash(spec):
                self._add(RECORD_HASH, kind.name, object_id=record.object_id, spec=spec)
                self._set(kind, applied_hash=spec_hash(spec))
            return
        moving = set(kind.keys(spec)) != set(kind.keys(remote))
        if moving or kind.name in self.rejected:
            # The write could be refused for a holder of the keys it takes on.
            holders = self._holders(kind, kind.keys(spec))
            self._duplicates(kind, holders, keep=record.object_id)
            self._blockers(kind, spec, holders, record.object_id)
            if kind.name in self.rejected:
                self._stop(REJECTED, kind.name, object_id=record.object_id)
        why = f"{kind.upstream} differs from Switchboard"
        if PENDING_ID in kind.keys(spec):
            why = "point it at the new trunk"
        self._update(kind, record.object_id, spec, reason=why, remote=remote, changes=changes)

    def _update(self, kind: Kind, object_id: str, spec: Any, **kw: Any) -> None:
        self._add(UPDATE, kind.name, object_id=object_id, spec=spec, **kw)
        self._set(kind, applied_hash=spec_hash(spec))

    def _create_or_adopt(self, kind: Kind, record: Record, spec: Any) -> None:
        keys = kind.keys(spec)
        if record.intent or kind.name in self.rejected or self.verify:
            holders = self._holders(kind, sorted(set(keys) | set(record.intent_keys)))
            mine = sorted((h for h in holders if self._mine(h)), key=kind.object_id)
            if mine:
                return self._adopt(kind, spec, mine)
            self._blockers(kind, spec, holders, "")
            if kind.name in self.rejected:
                self._stop(REJECTED, kind.name)
        self._add(CREATE, kind.name, spec=spec, reason=kind.describe(spec))
        self._set(kind, object_id=PENDING_ID, applied_hash=spec_hash(spec), intent=False)

    def _adopt(self, kind: Kind, spec: Any, mine: list[Any]) -> None:
        keep = mine[0]
        oid = kind.object_id(keep)
        same = not diff_fields(spec, keep.as_spec())
        self._add(ADOPT, kind.name, object_id=oid, remote=keep, spec=spec, reason="ours")
        self._duplicates(kind, mine, keep=oid)
        self._set(
            kind,
            object_id=oid,
            applied_hash=spec_hash(spec) if same else "",
            intent=False,
            intent_keys=(),
        )
        self.rejected.discard(kind.name)
        record = self.records[kind.name]
        if self.verify:
            self._existing(kind, record, spec, keep)
        else:
            self._by_hash(kind, record, spec)

    def _duplicates(self, kind: Kind, holders: Sequence[Any], *, keep: str) -> None:
        for holder in holders:
            oid = kind.object_id(holder)
            if oid != keep and self._mine(holder):
                self._add(DELETE, kind.name, object_id=oid, role=DUPLICATE, reason="ours too")

    def _blockers(self, kind: Kind, spec: Any, holders: Sequence[Any], exclude: str) -> None:
        """Stop at a holder of the spec's keys that is not ours (this clinic's)."""
        keys = set(kind.keys(spec))
        others = [
            h
            for h in holders
            if kind.object_id(h) != exclude and not self._mine(h) and set(kind.keys(h)) & keys
        ]
        foreign = [h for h in others if owner_of(h.metadata) is None]
        if foreign or (others and not kind.wait_for_other_clinics):
            self._stop(CONFLICT, kind.name, reason=kind.conflict_sentence(spec, foreign or others))
        if others:
            self._stop(WAIT, kind.name, reason=kind.wait_sentence())


def records_of(prov: Any) -> dict[str, Record]:
    """Every kind's record, from the clinic's provisioning row."""
    return {kind.name: kind.record(prov) for kind in KINDS}
