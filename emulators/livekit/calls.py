"""Call simulation: what LiveKit would do with an inbound call.

Reference: livekit-sip.md §4.7 (trunk and rule matching), §5.2 (room names), §5.3 (participant
identity, name and attributes) and §6.1 (agent dispatch). Returns the design.md §6 shape.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from typing import Any

from livekit.protocol import sip as proto_sip

from .conflicts import find_rule_conflict, rule_pin
from .errors import TwirpError
from .ids import CALL_PREFIX, new_id, normalize_number
from .store import Store

_BAD_MASK_CHARS = frozenset("()+*;, \t\n\r")


@dataclass(frozen=True)
class CallRequest:
    caller: str
    called: str
    source_ip: str = ""
    from_host: str = ""
    pin: str = ""
    no_pin: bool = False


def _valid_mask(mask: str) -> bool:
    return bool(mask) and "://" not in mask and not any(ch in _BAD_MASK_CHARS for ch in mask)


def _address_allowed(masks: list[str], source_ip: str, from_host: str) -> bool:
    """IP, CIDR or From-host equality; invalid masks are dropped; all invalid -> any address."""
    valid = [m for m in masks if _valid_mask(m)]
    if not valid:
        return True
    try:
        ip = ipaddress.ip_address(source_ip)
    except ValueError:
        return True  # an unparseable source IP is accepted
    for mask in valid:
        if from_host and mask == from_host:
            return True
        try:
            if "/" in mask:
                if ip in ipaddress.ip_network(mask, strict=False):
                    return True
            elif ip == ipaddress.ip_address(mask):
                return True
        except ValueError:
            continue  # a hostname that is not the From host
    return False


def _number_allowed(caller: str, allowed: list[str]) -> bool:
    if not allowed:
        return True
    normalised = normalize_number(caller)
    return any(normalize_number(a) == normalised for a in allowed)


def match_trunk(store: Store, call: CallRequest) -> proto_sip.SIPInboundTrunkInfo | None:
    """``MatchTrunkDetailed``: specific beats wildcard; ambiguity is failed_precondition."""
    called = normalize_number(call.called)
    selected: proto_sip.SIPInboundTrunkInfo | None = None
    defaults: list[proto_sip.SIPInboundTrunkInfo] = []
    for trunk_id in sorted(store.inbound_for_numbers([call.called])):
        trunk = store.inbound.items[trunk_id]
        if not _number_allowed(call.caller, list(trunk.allowed_numbers)):
            continue
        if not _address_allowed(list(trunk.allowed_addresses), call.source_ip, call.from_host):
            continue
        if not trunk.numbers:
            defaults.append(trunk)
        elif any(normalize_number(n) == called for n in trunk.numbers):
            if selected is not None:
                raise TwirpError(
                    "failed_precondition", f'Multiple SIP Trunks matched for "{call.called}"'
                )
            selected = trunk
    if selected is not None:
        return selected
    if len(defaults) > 1:
        raise TwirpError(
            "failed_precondition", f'Multiple default SIP Trunks matched for "{call.called}"'
        )
    return defaults[0] if defaults else None


def rule_priority(rule: proto_sip.SIPDispatchRuleInfo) -> int:
    """``DispatchRulePriority``: lower wins."""
    kind = rule.rule.WhichOneof("rule")
    if kind is None:
        return 2**31 - 1
    base = {"dispatch_rule_direct": 0, "dispatch_rule_individual": 1, "dispatch_rule_callee": 2}
    priority = base[kind] + (0 if getattr(rule.rule, kind).pin else 100)
    if not rule.inbound_numbers:
        priority += 1000
    if not rule.numbers:
        priority += 1000
    return priority


def _room_part(rule: proto_sip.SIPDispatchRuleInfo) -> str:
    kind = rule.rule.WhichOneof("rule")
    if kind == "dispatch_rule_direct":
        return str(rule.rule.dispatch_rule_direct.room_name)
    return str(getattr(rule.rule, kind).room_prefix) if kind else ""


def _select(rules: list[proto_sip.SIPDispatchRuleInfo]) -> proto_sip.SIPDispatchRuleInfo | None:
    if not rules:
        return None
    conflict = find_rule_conflict(rules)
    if conflict is not None:
        raise conflict
    return sorted(rules, key=lambda r: (rule_priority(r), _room_part(r)))[0]


def match_rule(
    store: Store, trunk: proto_sip.SIPInboundTrunkInfo | None, call: CallRequest
) -> proto_sip.SIPDispatchRuleInfo | None:
    """``MatchDispatchRuleIter``: trunk-specific rules first, then wildcard rules."""
    trunk_ids = [trunk.sip_trunk_id] if trunk is not None else []
    specific: list[proto_sip.SIPDispatchRuleInfo] = []
    default: list[proto_sip.SIPDispatchRuleInfo] = []
    for rule_id in sorted(store.rules_for_trunks(trunk_ids)):
        rule = store.rules.items[rule_id]
        # Exact string comparison, no normalisation (§4.7).
        if rule.inbound_numbers and call.caller not in rule.inbound_numbers:
            continue
        if rule.numbers and call.called not in rule.numbers:
            continue
        try:
            pin = rule_pin(rule)
        except TwirpError:
            continue
        if call.no_pin and pin:
            continue
        if call.pin and pin != call.pin:
            continue  # a sent PIN never falls back to open rules
        (specific if rule.trunk_ids else default).append(rule)
    return _select(specific) or _select(default)


def room_name(rule: proto_sip.SIPDispatchRuleInfo, caller: str, called: str) -> str:
    kind = rule.rule.WhichOneof("rule")
    if kind == "dispatch_rule_direct":
        return str(rule.rule.dispatch_rule_direct.room_name)
    if kind == "dispatch_rule_individual":
        individual = rule.rule.dispatch_rule_individual
        name = f"{individual.room_prefix}_{caller}" if individual.room_prefix else caller
        return name if individual.no_randomness else f"{name}_{new_id()}"
    callee = rule.rule.dispatch_rule_callee
    name = f"{callee.room_prefix}_{called}" if callee.room_prefix else called
    return f"{name}_{new_id()}" if callee.randomize else name


def participant(
    rule: proto_sip.SIPDispatchRuleInfo, trunk_id: str, call: CallRequest, call_id: str
) -> tuple[dict[str, Any], str]:
    """Identity, name, metadata and attributes; also the caller as it appears in room names."""
    attributes = dict(rule.attributes)
    attributes.update({"sip.callID": call_id, "sip.trunkID": trunk_id})
    caller = call.caller
    identity, name = f"sip_{caller}", f"Phone {caller}"
    if rule.hide_phone_number:
        digest = hashlib.sha256(caller.encode()).digest()[:8]
        identity = "sip_" + digest.hex()
        keep = 4 if len(caller) > 4 else 1
        caller = caller[-keep:]
        name = f"Phone {caller}"
    else:
        attributes["sip.phoneNumber"] = call.caller
        attributes["sip.hostname"] = call.from_host or call.source_ip
        attributes["sip.trunkPhoneNumber"] = call.called
    attributes["sip.ruleID"] = rule.sip_dispatch_rule_id
    attributes["sip.callStatus"] = "active"
    info = {
        "identity": identity,
        "name": name,
        "metadata": rule.metadata,
        "attributes": attributes,
        "kind": "SIP",
    }
    return info, caller


def agents(rule: proto_sip.SIPDispatchRuleInfo) -> list[dict[str, Any]]:
    """Named agents from room_config, or one automatic dispatch with an empty agent_name."""
    configured = [
        {
            "agent_name": a.agent_name,
            "metadata": a.metadata,
            "deployment": a.deployment,
            "attributes": dict(a.attributes),
        }
        for a in rule.room_config.agents
    ]
    return configured or [{"agent_name": "", "metadata": "", "deployment": "", "attributes": {}}]


def simulate(store: Store, call: CallRequest, *, require_trunk: bool) -> dict[str, Any]:
    result: dict[str, Any] = {
        "result": "",
        "trunk_id": "",
        "dispatch_rule_id": "",
        "room_name": "",
        "participant": None,
        "agents": [],
        "error": "",
    }
    try:
        trunk = match_trunk(store, call)
        result["trunk_id"] = trunk.sip_trunk_id if trunk else ""
        if trunk is None and require_trunk:
            result["result"] = "no_trunk"
            result["error"] = f'No SIP Trunk matched for "{call.called}"'
            return result
        rule = match_rule(store, trunk, call)
    except TwirpError as exc:
        result.update(result="error", error=exc.msg, code=exc.code)
        return result
    if rule is None:
        if trunk is None:
            result["result"] = "no_trunk"
            result["error"] = f'No SIP Trunk or Dispatch Rules matched for "{call.called}"'
        else:
            result["result"] = "drop"
            result["error"] = f'No SIP Dispatch Rules matched for "{call.called}"'
        return result
    result["dispatch_rule_id"] = rule.sip_dispatch_rule_id
    if rule_pin(rule) and not call.pin:
        result["result"] = "request_pin"
        return result
    call_id = new_id(CALL_PREFIX)
    info, shown_caller = participant(rule, result["trunk_id"], call, call_id)
    result.update(
        result="dispatch",
        call_id=call_id,
        room_name=room_name(rule, shown_caller, call.called),
        room_metadata=rule.room_config.metadata,
        participant=info,
        agents=agents(rule),
    )
    return result
