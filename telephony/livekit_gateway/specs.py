"""What Switchboard wants LiveKit to hold (specs) and what it holds (remote objects),
and their conversions to and from livekit-api's protobuf messages."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from livekit import api

# --- Data ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrunkSpec:
    """The inbound trunk Switchboard wants LiveKit to hold."""

    name: str
    metadata: str
    numbers: tuple[str, ...]
    allowed_addresses: tuple[str, ...] = ()
    auth_username: str = ""
    auth_password: str = field(default="", repr=False)
    krisp_enabled: bool = False


@dataclass(frozen=True)
class RemoteTrunk(TrunkSpec):
    trunk_id: str = ""
    # Not part of what Switchboard writes, but call matching needs it (test-call dry runs).
    allowed_numbers: tuple[str, ...] = ()

    def as_spec(self) -> TrunkSpec:
        return TrunkSpec(
            name=self.name,
            metadata=self.metadata,
            numbers=self.numbers,
            allowed_addresses=self.allowed_addresses,
            auth_username=self.auth_username,
            auth_password=self.auth_password,
            krisp_enabled=self.krisp_enabled,
        )


@dataclass(frozen=True)
class AgentDispatch:
    agent_name: str
    metadata: str


@dataclass(frozen=True)
class RuleSpec:
    """An individual-room dispatch rule with explicit agent dispatch."""

    name: str
    metadata: str
    trunk_ids: tuple[str, ...]
    room_prefix: str
    hide_phone_number: bool
    agents: tuple[AgentDispatch, ...]
    attributes: tuple[tuple[str, str], ...] = ()
    pin: str = ""
    numbers: tuple[str, ...] = ()
    inbound_numbers: tuple[str, ...] = ()
    rule_type: str = "individual"


@dataclass(frozen=True)
class RemoteRule(RuleSpec):
    rule_id: str = ""
    # Room naming details of rules Switchboard did not write (for test-call dry runs).
    room_name: str = ""  # direct rules
    randomize: bool = False  # callee rules
    no_randomness: bool = False  # individual rules

    def as_spec(self) -> RuleSpec:
        return RuleSpec(
            name=self.name,
            metadata=self.metadata,
            trunk_ids=self.trunk_ids,
            room_prefix=self.room_prefix,
            hide_phone_number=self.hide_phone_number,
            agents=self.agents,
            attributes=self.attributes,
            pin=self.pin,
            numbers=self.numbers,
            inbound_numbers=self.inbound_numbers,
            rule_type=self.rule_type,
        )


def parse_metadata(metadata: str) -> dict[str, Any]:
    try:
        value = json.loads(metadata) if metadata else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


# --- Conversions --------------------------------------------------------------------------


def _trunk_info(spec: TrunkSpec) -> api.SIPInboundTrunkInfo:
    return api.SIPInboundTrunkInfo(
        name=spec.name,
        metadata=spec.metadata,
        numbers=list(spec.numbers),
        allowed_addresses=list(spec.allowed_addresses),
        auth_username=spec.auth_username,
        auth_password=spec.auth_password,
        krisp_enabled=spec.krisp_enabled,
    )


def _remote_trunk(info: Any) -> RemoteTrunk:
    return RemoteTrunk(
        trunk_id=info.sip_trunk_id,
        name=info.name,
        metadata=info.metadata,
        numbers=tuple(info.numbers),
        allowed_addresses=tuple(info.allowed_addresses),
        auth_username=info.auth_username,
        auth_password=info.auth_password,
        krisp_enabled=info.krisp_enabled,
        allowed_numbers=tuple(info.allowed_numbers),
    )


def _rule_info(spec: RuleSpec) -> api.SIPDispatchRuleInfo:
    if spec.rule_type != "individual":
        raise ValueError(f"unsupported rule type {spec.rule_type!r}")
    rule = api.SIPDispatchRule(
        dispatch_rule_individual=api.SIPDispatchRuleIndividual(
            room_prefix=spec.room_prefix, pin=spec.pin
        )
    )
    return api.SIPDispatchRuleInfo(
        rule=rule,
        name=spec.name,
        metadata=spec.metadata,
        trunk_ids=list(spec.trunk_ids),
        hide_phone_number=spec.hide_phone_number,
        attributes=dict(spec.attributes),
        numbers=list(spec.numbers),
        inbound_numbers=list(spec.inbound_numbers),
        room_config=api.RoomConfiguration(
            agents=[
                api.RoomAgentDispatch(agent_name=a.agent_name, metadata=a.metadata)
                for a in spec.agents
            ]
        ),
    )


def _remote_rule(info: Any) -> RemoteRule:
    kind = info.rule.WhichOneof("rule") or ""
    prefix, pin, rule_type = "", "", kind.removeprefix("dispatch_rule_")
    room_name, randomize, no_randomness = "", False, False
    if kind == "dispatch_rule_individual":
        prefix = info.rule.dispatch_rule_individual.room_prefix
        pin = info.rule.dispatch_rule_individual.pin
        no_randomness = info.rule.dispatch_rule_individual.no_randomness
    elif kind == "dispatch_rule_callee":
        prefix = info.rule.dispatch_rule_callee.room_prefix
        pin = info.rule.dispatch_rule_callee.pin
        randomize = info.rule.dispatch_rule_callee.randomize
    elif kind == "dispatch_rule_direct":
        pin = info.rule.dispatch_rule_direct.pin
        room_name = info.rule.dispatch_rule_direct.room_name
    return RemoteRule(
        rule_id=info.sip_dispatch_rule_id,
        name=info.name,
        metadata=info.metadata,
        trunk_ids=tuple(info.trunk_ids),
        room_prefix=prefix,
        hide_phone_number=info.hide_phone_number,
        agents=tuple(
            AgentDispatch(agent_name=a.agent_name, metadata=a.metadata)
            for a in info.room_config.agents
        ),
        attributes=tuple(sorted(info.attributes.items())),
        pin=pin,
        numbers=tuple(info.numbers),
        inbound_numbers=tuple(info.inbound_numbers),
        rule_type=rule_type,
        room_name=room_name,
        randomize=randomize,
        no_randomness=no_randomness,
    )
