"""In-memory store of trunks and dispatch rules, with the indexes that keep it fast.

Indexes:

* inbound trunks by normalised number (plus the set of wildcard trunks), so list-by-number and
  the create-time conflict check touch only the matching trunks, never all of them;
* outbound trunks by exact number (outbound filters compare strings exactly, §4.6);
* dispatch rules by trunk ID (plus wildcard rules), and by conflict key, so a create checks
  its keys in O(keys) instead of re-validating every stored rule;
* a sorted ID list per kind, so "sorted by ID, after_id exclusive" is a bisect.

Stored messages are never mutated in place: updates store a fresh copy. That lets persistence
serialise a snapshot off the event loop.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable
from typing import Generic, TypeVar

from google.protobuf.message import Message
from livekit.protocol import sip as proto_sip

from .conflicts import RuleKey, rule_keys, trunk_buckets
from .ids import normalize_number

M = TypeVar("M", bound=Message)


class SortedTable(Generic[M]):
    """ID -> message, plus the IDs kept sorted."""

    def __init__(self) -> None:
        self.items: dict[str, M] = {}
        self.ids: list[str] = []

    def put(self, object_id: str, item: M) -> None:
        if object_id not in self.items:
            bisect.insort(self.ids, object_id)
        self.items[object_id] = item

    def pop(self, object_id: str) -> M | None:
        item = self.items.pop(object_id, None)
        if item is not None:
            index = bisect.bisect_left(self.ids, object_id)
            if index < len(self.ids) and self.ids[index] == object_id:
                del self.ids[index]
        return item

    def ids_after(self, after_id: str) -> list[str]:
        return self.ids[bisect.bisect_right(self.ids, after_id) :] if after_id else self.ids

    def __len__(self) -> int:
        return len(self.items)


class Index:
    """key -> set of IDs, with empty sets dropped."""

    def __init__(self) -> None:
        self.by_key: dict[str, set[str]] = defaultdict(set)

    def add(self, keys: Iterable[str], object_id: str) -> None:
        for key in keys:
            self.by_key[key].add(object_id)

    def remove(self, keys: Iterable[str], object_id: str) -> None:
        for key in keys:
            ids = self.by_key.get(key)
            if ids is not None:
                ids.discard(object_id)
                if not ids:
                    del self.by_key[key]

    def get(self, key: str) -> set[str]:
        return self.by_key.get(key, set())


def _rule_keys_or_empty(rule: proto_sip.SIPDispatchRuleInfo) -> list[RuleKey]:
    try:
        return list(rule_keys(rule))
    except Exception:  # an unset rule oneof has no keys; validation refuses it anyway
        return []


class Store:
    def __init__(self) -> None:
        self.inbound: SortedTable[proto_sip.SIPInboundTrunkInfo] = SortedTable()
        self.outbound: SortedTable[proto_sip.SIPOutboundTrunkInfo] = SortedTable()
        self.rules: SortedTable[proto_sip.SIPDispatchRuleInfo] = SortedTable()
        self._inbound_numbers = Index()  # normalised number ("" = wildcard) -> trunk IDs
        self._outbound_numbers = Index()  # exact number ("" = wildcard) -> trunk IDs
        self._rules_by_trunk = Index()  # trunk ID ("" = wildcard) -> rule IDs
        self._rule_keys: dict[RuleKey, set[str]] = defaultdict(set)
        self._clashing_keys = 0  # keys claimed by more than one stored rule
        self.version = 0  # bumped on every change; persistence watches it

    # -- inbound trunks -------------------------------------------------------------------
    def put_inbound(self, trunk: proto_sip.SIPInboundTrunkInfo) -> None:
        self.delete_trunk(trunk.sip_trunk_id)
        self.inbound.put(trunk.sip_trunk_id, trunk)
        self._inbound_numbers.add(trunk_buckets(trunk), trunk.sip_trunk_id)
        self.version += 1

    def inbound_for_numbers(self, numbers: Iterable[str]) -> set[str]:
        """IDs of trunks holding any of ``numbers`` (normalised), plus every wildcard trunk."""
        found = set(self._inbound_numbers.get(""))
        for number in numbers:
            found |= self._inbound_numbers.get(normalize_number(number))
        return found

    # -- outbound trunks ------------------------------------------------------------------
    def put_outbound(self, trunk: proto_sip.SIPOutboundTrunkInfo) -> None:
        self.delete_trunk(trunk.sip_trunk_id)
        self.outbound.put(trunk.sip_trunk_id, trunk)
        self._outbound_numbers.add(list(trunk.numbers) or [""], trunk.sip_trunk_id)
        self.version += 1

    def outbound_for_numbers(self, numbers: Iterable[str]) -> set[str]:
        found = set(self._outbound_numbers.get(""))
        for number in numbers:
            found |= self._outbound_numbers.get(number)
        return found

    def delete_trunk(self, trunk_id: str) -> bool:
        """Remove from both kinds (DeleteSIPTrunk serves both); True if anything was there."""
        removed = False
        inbound = self.inbound.pop(trunk_id)
        if inbound is not None:
            self._inbound_numbers.remove(trunk_buckets(inbound), trunk_id)
            removed = True
        outbound = self.outbound.pop(trunk_id)
        if outbound is not None:
            self._outbound_numbers.remove(list(outbound.numbers) or [""], trunk_id)
            removed = True
        if removed:
            self.version += 1
        return removed

    # -- dispatch rules -------------------------------------------------------------------
    def put_rule(self, rule: proto_sip.SIPDispatchRuleInfo) -> None:
        self.delete_rule(rule.sip_dispatch_rule_id)
        rule_id = rule.sip_dispatch_rule_id
        self.rules.put(rule_id, rule)
        self._rules_by_trunk.add(list(rule.trunk_ids) or [""], rule_id)
        for key in set(_rule_keys_or_empty(rule)):
            holders = self._rule_keys[key]
            holders.add(rule_id)
            if len(holders) == 2:
                self._clashing_keys += 1
        self.version += 1

    def delete_rule(self, rule_id: str) -> proto_sip.SIPDispatchRuleInfo | None:
        rule = self.rules.pop(rule_id)
        if rule is None:
            return None
        self._rules_by_trunk.remove(list(rule.trunk_ids) or [""], rule_id)
        for key in set(_rule_keys_or_empty(rule)):
            holders = self._rule_keys.get(key)
            if holders is None:
                continue
            holders.discard(rule_id)
            if len(holders) == 1:
                self._clashing_keys -= 1
            if not holders:
                del self._rule_keys[key]
        self.version += 1
        return rule

    def rules_for_trunks(self, trunk_ids: Iterable[str]) -> set[str]:
        """IDs of rules sharing any of ``trunk_ids``, plus every wildcard rule."""
        found = set(self._rules_by_trunk.get(""))
        for trunk_id in trunk_ids:
            found |= self._rules_by_trunk.get(trunk_id)
        return found

    def rule_key_holders(self, key: RuleKey) -> set[str]:
        return self._rule_keys.get(key, set())

    @property
    def stored_rules_clash(self) -> bool:
        """True if stored rules already conflict among themselves (possible via the update gap)."""
        return self._clashing_keys > 0

    # -- whole store ----------------------------------------------------------------------
    def clear(self) -> None:
        version = self.version
        self.__init__()  # type: ignore[misc]
        self.version = version + 1

    def counts(self) -> dict[str, int]:
        return {
            "inbound_trunks": len(self.inbound),
            "outbound_trunks": len(self.outbound),
            "dispatch_rules": len(self.rules),
        }
