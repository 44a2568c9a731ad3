"""LiveKit's conflict rules for inbound trunks and dispatch rules.

Reference: livekit-sip.md §4.1 (``ValidateTrunksIter`` / ``validateTrunkInbound``) and §4.3
(``DispatchRuleValidator``). The validators take the candidate objects in iteration order (the
store passes stored objects sorted by ID, with the new object last) and return LiveKit's message
for the first conflict, or ``None``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from livekit.protocol import sip as proto_sip

from .errors import TwirpError, invalid_argument
from .ids import go_quote, go_quote_list, normalize_number

RuleKey = tuple[str, str, str, str]


def print_id(object_id: str) -> str:
    return object_id or "<new>"


def print_numbers(numbers: Iterable[str]) -> str:
    items = list(numbers)
    return go_quote_list(items) if items else "<any>"


def trunk_buckets(trunk: proto_sip.SIPInboundTrunkInfo) -> list[str]:
    """The normalised number buckets a trunk sits in; ``""`` for a wildcard trunk."""
    if not trunk.numbers:
        return [""]
    return list(dict.fromkeys(normalize_number(n) for n in trunk.numbers))


def _check_bucket(
    bucket: dict[str, proto_sip.SIPInboundTrunkInfo], trunk: proto_sip.SIPInboundTrunkInfo
) -> str | None:
    if not trunk.allowed_numbers:
        other = bucket.get("")
        if other is not None and other is not trunk:
            return (
                f"Conflicting inbound SIP Trunks: {go_quote(print_id(trunk.sip_trunk_id))} and "
                f"{go_quote(print_id(other.sip_trunk_id))}, using the same number(s) "
                f"{print_numbers(trunk.numbers)} without AllowedNumbers set"
            )
        bucket[""] = trunk
        return None
    for allowed in trunk.allowed_numbers:
        key = normalize_number(allowed)
        other = bucket.get(key)
        if other is not None and other is not trunk:
            return (
                f"Conflicting inbound SIP Trunks: {go_quote(print_id(trunk.sip_trunk_id))} and "
                f"{go_quote(print_id(other.sip_trunk_id))}, using the same number(s) "
                f"{print_numbers(trunk.numbers)} and AllowedNumber {go_quote(allowed)}"
            )
        bucket[key] = trunk
    return None


def find_trunk_conflict(trunks: Iterable[proto_sip.SIPInboundTrunkInfo]) -> str | None:
    """Bucket by normalised number, then key by allowed number; the first clash wins."""
    buckets: dict[str, dict[str, proto_sip.SIPInboundTrunkInfo]] = {}
    for trunk in trunks:
        for number in trunk_buckets(trunk):
            problem = _check_bucket(buckets.setdefault(number, {}), trunk)
            if problem:
                return problem
    return None


def rule_pin(rule: proto_sip.SIPDispatchRuleInfo) -> str:
    """``GetPinAndRoom``'s PIN; an unset rule oneof is an ``invalid_argument`` error."""
    kind = rule.rule.WhichOneof("rule")
    if kind is None:
        raise invalid_argument("unsupported SIP Dispatch Rule: <nil>")
    return str(getattr(rule.rule, kind).pin)


def rule_keys(rule: proto_sip.SIPDispatchRuleInfo) -> Iterator[RuleKey]:
    """Every (PIN, trunk, inbound number, number) key a rule claims; empty lists give ``""``."""
    pin = rule_pin(rule)
    trunks = list(rule.trunk_ids) or [""]
    inbound = [normalize_number(n) for n in rule.inbound_numbers] or [""]
    numbers = [normalize_number(n) for n in rule.numbers] or [""]
    for trunk in trunks:
        for caller in inbound:
            for called in numbers:
                yield (pin, trunk, caller, called)


def rule_conflict_message(existing: proto_sip.SIPDispatchRuleInfo) -> str:
    name = existing.name or "<blank name>"
    return (
        "Dispatch rule for the same trunk, inbound number, number, and PIN combination already "
        f"exists in dispatch rule {go_quote(print_id(existing.sip_dispatch_rule_id))} "
        f"{go_quote(name)}"
    )


def find_rule_conflict(rules: Iterable[proto_sip.SIPDispatchRuleInfo]) -> TwirpError | None:
    """The rule type plays no part: only the key matters (§4.3)."""
    seen: dict[RuleKey, proto_sip.SIPDispatchRuleInfo] = {}
    for rule in rules:
        for key in rule_keys(rule):
            other = seen.get(key)
            if other is not None and other is not rule:
                return invalid_argument(rule_conflict_message(other))
            seen[key] = rule
    return None
