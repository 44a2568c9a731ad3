"""What LiveKit would do with an inbound call, from the trunks and rules it holds.

Pure Python over the gateway's dataclasses; no I/O. Follows docs/livekit-sip.md §4.7
(trunk and dispatch-rule matching) and §5.2-§5.3 (room names, hidden caller numbers). Used by
the test call's dry run against a real LiveKit, where no call can be simulated.

Known limits, said plainly in the result: there is no source address in a test call, so a
trunk's allowed_addresses are not evaluated (LiveKit accepts an unparseable source address
too), and the random room suffix is shown as a pattern.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from telephony.livekit_gateway import AgentDispatch, RemoteRule, RemoteTrunk

RANDOM_PART = "<12 random characters>"
_FORMATTED_NUMBER = re.compile(r"^\+?[0-9\- ()]+$")

# DispatchRulePriority: PIN-protected rules first, then by kind; lower wins.
_BASE_PRIORITY = {"direct": 0, "individual": 1, "callee": 2}


def normalize_number(number: str) -> str:
    """LiveKit's NormalizeNumber: formatted digits lose their formatting and gain a '+'."""
    if not number or not _FORMATTED_NUMBER.match(number):
        return number
    stripped = re.sub(r"[\- ()]", "", number)
    return stripped if stripped.startswith("+") else "+" + stripped


@dataclass(frozen=True)
class CallPlan:
    """The outcome for one call: "dispatch", "request_pin", "drop", "no_trunk" or "error"."""

    outcome: str
    caller: str
    called: str
    trunk_id: str = ""
    rule_id: str = ""
    room_name_pattern: str = ""
    agents: tuple[AgentDispatch, ...] = ()
    attributes: dict[str, str] = field(default_factory=dict)
    message: str = ""


def _caller_allowed(trunk: RemoteTrunk, caller: str) -> bool:
    if not trunk.allowed_numbers:
        return True
    wanted = normalize_number(caller)
    return any(normalize_number(n) == wanted for n in trunk.allowed_numbers)


def match_trunk(trunks: Sequence[RemoteTrunk], caller: str, called: str) -> RemoteTrunk | None:
    """Specific numbers beat a wildcard (no numbers) trunk; two of a kind is an error."""
    target = normalize_number(called)
    specific: list[RemoteTrunk] = []
    wildcard: list[RemoteTrunk] = []
    for trunk in sorted(trunks, key=lambda t: t.trunk_id):
        if not _caller_allowed(trunk, caller):
            continue
        if not trunk.numbers:
            wildcard.append(trunk)
        elif any(normalize_number(n) == target for n in trunk.numbers):
            specific.append(trunk)
    if len(specific) > 1:
        raise ValueError(f'Multiple SIP Trunks matched for "{called}"')
    if specific:
        return specific[0]
    if len(wildcard) > 1:
        raise ValueError(f'Multiple default SIP Trunks matched for "{called}"')
    return wildcard[0] if wildcard else None


def rule_priority(rule: RemoteRule) -> int:
    priority = _BASE_PRIORITY.get(rule.rule_type, 10**6) + (0 if rule.pin else 100)
    if not rule.inbound_numbers:
        priority += 1000
    if not rule.numbers:
        priority += 1000
    return priority


def _room_part(rule: RemoteRule) -> str:
    return rule.room_name if rule.rule_type == "direct" else rule.room_prefix


def match_rule(
    rules: Sequence[RemoteRule], trunk: RemoteTrunk | None, caller: str, called: str
) -> RemoteRule | None:
    """Trunk-specific rules win over catch-alls; then priority, then room name/prefix.

    Rule numbers are compared as exact strings, as LiveKit does (no normalisation).
    """
    trunk_id = trunk.trunk_id if trunk else ""
    specific: list[RemoteRule] = []
    catch_all: list[RemoteRule] = []
    for rule in rules:
        if rule.trunk_ids and trunk_id not in rule.trunk_ids:
            continue
        if rule.inbound_numbers and caller not in rule.inbound_numbers:
            continue
        if rule.numbers and called not in rule.numbers:
            continue
        (specific if rule.trunk_ids else catch_all).append(rule)
    for group in (specific, catch_all):
        if group:
            return sorted(group, key=lambda r: (rule_priority(r), _room_part(r)))[0]
    return None


def shown_caller(rule: RemoteRule, caller: str) -> str:
    """The caller as it appears in room names: its last 4 digits when the rule hides it."""
    if not rule.hide_phone_number:
        return caller
    return caller[-4:] if len(caller) > 4 else caller[-1:]


def room_name_pattern(rule: RemoteRule, caller: str, called: str) -> str:
    who = shown_caller(rule, caller)
    if rule.rule_type == "direct":
        return rule.room_name
    if rule.rule_type == "individual":
        name = f"{rule.room_prefix}_{who}" if rule.room_prefix else who
        return name if rule.no_randomness else f"{name}_{RANDOM_PART}"
    name = f"{rule.room_prefix}_{called}" if rule.room_prefix else called
    return f"{name}_{RANDOM_PART}" if rule.randomize else name


def evaluate(
    trunks: Sequence[RemoteTrunk], rules: Sequence[RemoteRule], *, caller: str, called: str
) -> CallPlan:
    """The trunk, rule, room name and agent dispatch LiveKit would choose for this call."""
    base = CallPlan(outcome="", caller=caller, called=called)
    try:
        trunk = match_trunk(trunks, caller, called)
    except ValueError as exc:
        return _with(base, outcome="error", message=str(exc))
    if trunk is None:
        return _with(base, outcome="no_trunk", message=f'No SIP Trunk matched for "{called}"')
    rule = match_rule(rules, trunk, caller, called)
    if rule is None:
        return _with(
            base,
            outcome="drop",
            trunk_id=trunk.trunk_id,
            message=f'No SIP Dispatch Rules matched for "{called}"',
        )
    plan = _with(base, outcome="dispatch", trunk_id=trunk.trunk_id, rule_id=rule.rule_id)
    if rule.pin:
        return _with(plan, outcome="request_pin", message="The caller is asked for a PIN.")
    attributes = dict(rule.attributes)
    attributes.update({"sip.trunkID": trunk.trunk_id, "sip.ruleID": rule.rule_id})
    return _with(
        plan,
        room_name_pattern=room_name_pattern(rule, caller, called),
        agents=rule.agents or (AgentDispatch("", ""),),
        attributes=attributes,
    )


def _with(plan: CallPlan, **changes: object) -> CallPlan:
    return replace(plan, **changes)  # type: ignore[arg-type]
