"""Call simulation: trunk and rule matching, room names, identity, agents (§4.7, §5, §6)."""

from __future__ import annotations

import hashlib
import re

from livekit import api

from .helpers import ID_RE, direct_rule, inbound, individual_rule


def trunk(lk, numbers=None, **fields):
    return lk(lambda c: c.sip.create_inbound_trunk(inbound(numbers, **fields))).sip_trunk_id


def rule(lk, req):
    return lk(lambda c: c.sip.create_dispatch_rule(req)).sip_dispatch_rule_id


def test_individual_room_identity_attributes_and_agents(lk, control):
    t = trunk(lk, ["+15550001000"])
    agents = api.RoomConfiguration(
        agents=[api.RoomAgentDispatch(agent_name="receptionist", metadata='{"clinic": "c1"}')]
    )
    r = rule(
        lk,
        individual_rule(
            [t], prefix="brightsmile", metadata="pm", attributes={"a": "1"}, room_config=agents
        ),
    )
    result = control.call("+15557654321", "+15550001000", source_ip="10.1.2.3")
    assert (result["result"], result["trunk_id"], result["dispatch_rule_id"]) == ("dispatch", t, r)
    assert re.fullmatch(r"brightsmile_\+15557654321_" + ID_RE, result["room_name"])
    person = result["participant"]
    assert (person["identity"], person["name"], person["metadata"]) == (
        "sip_+15557654321",
        "Phone +15557654321",
        "pm",
    )
    attrs = person["attributes"]
    assert attrs["a"] == "1" and attrs["sip.trunkID"] == t and attrs["sip.ruleID"] == r
    assert (
        attrs["sip.phoneNumber"] == "+15557654321"
        and attrs["sip.trunkPhoneNumber"] == "+15550001000"
    )
    assert re.fullmatch("SCL_" + ID_RE, attrs["sip.callID"])
    assert [(a["agent_name"], a["metadata"]) for a in result["agents"]] == [
        ("receptionist", '{"clinic": "c1"}')
    ]


def test_hide_phone_number_masks_and_hashes(lk, control):
    t = trunk(lk, ["+15550001001"])
    rule(lk, individual_rule([t], prefix="p", hide_phone_number=True))
    result = control.call("+15557654321", "+15550001001")
    digest = hashlib.sha256(b"+15557654321").hexdigest()[:16]
    assert result["participant"]["identity"] == f"sip_{digest}"
    assert result["participant"]["name"] == "Phone 4321"
    assert re.fullmatch(r"p_4321_" + ID_RE, result["room_name"])
    assert not {"sip.phoneNumber", "sip.trunkPhoneNumber", "sip.hostname"} & set(
        result["participant"]["attributes"]
    )
    assert result["agents"] == [
        {"agent_name": "", "metadata": "", "deployment": "", "attributes": {}}
    ]  # automatic


def test_room_name_flavours(lk, control):
    t1, t2, t3, t4 = (trunk(lk, [f"+1555000110{i}"]) for i in range(4))
    plain = api.SIPDispatchRuleIndividual(no_randomness=True)
    rule(
        lk,
        api.CreateSIPDispatchRuleRequest(
            dispatch_rule=api.SIPDispatchRuleInfo(
                trunk_ids=[t1], rule=api.SIPDispatchRule(dispatch_rule_individual=plain)
            )
        ),
    )
    rule(
        lk,
        api.CreateSIPDispatchRuleRequest(
            dispatch_rule=api.SIPDispatchRuleInfo(
                trunk_ids=[t2],
                rule=api.SIPDispatchRule(
                    dispatch_rule_callee=api.SIPDispatchRuleCallee(room_prefix="cal")
                ),
            )
        ),
    )
    rule(
        lk,
        api.CreateSIPDispatchRuleRequest(
            dispatch_rule=api.SIPDispatchRuleInfo(
                trunk_ids=[t3],
                rule=api.SIPDispatchRule(
                    dispatch_rule_callee=api.SIPDispatchRuleCallee(randomize=True)
                ),
            )
        ),
    )
    rule(lk, direct_rule("lobby", [t4]))
    assert control.call("+1999", "+15550001100")["room_name"] == "+1999"
    assert control.call("+1999", "+15550001101")["room_name"] == "cal_+15550001101"
    assert re.fullmatch(
        r"\+15550001102_" + ID_RE, control.call("+1999", "+15550001102")["room_name"]
    )
    assert control.call("+1999", "+15550001103")["room_name"] == "lobby"


def test_trunk_matching(lk, control):
    specific = trunk(lk, ["+15550002000"], allowed_addresses=["10.0.0.0/8", "pbx.example.com"])
    wildcard = trunk(lk, allowed_addresses=["192.168.1.1"])
    rule(lk, direct_rule("any"))
    assert control.call("+1", "+15550002000", source_ip="10.9.9.9")["trunk_id"] == specific
    assert control.call("+1", "+15550002000", source_ip="11.0.0.1")["trunk_id"] == ""
    assert (
        control.call("+1", "+15550002000", source_ip="11.0.0.1", from_host="pbx.example.com")[
            "trunk_id"
        ]
        == specific
    )
    assert control.call("+1", "+15550009999", source_ip="192.168.1.1")["trunk_id"] == wildcard
    assert control.call("+1", "+15550009999", source_ip="not-an-ip")["trunk_id"] == wildcard
    assert trunk(lk, ["+15550002001"], allowed_addresses=["sip://bad", "1.2.3.4;x"])
    assert (
        control.call("+1", "+15550002001", source_ip="8.8.8.8")["result"] == "dispatch"
    )  # all masks invalid


def test_ambiguous_trunks_are_failed_precondition(lk, control):
    trunk(lk, ["+15550003000"], allowed_numbers=["+1777"])
    trunk(lk, ["+15550003000"])  # accepted: the validation gap of §4.1
    result = control.call("+1777", "+15550003000")
    assert (result["result"], result["code"]) == ("error", "failed_precondition")
    assert result["error"] == 'Multiple SIP Trunks matched for "+15550003000"'
    trunk(lk, allowed_addresses=["1.1.1.1"], allowed_numbers=["+1888"])
    trunk(lk, allowed_addresses=["1.1.1.1"])
    assert (
        control.call("+1888", "+19999")["error"]
        == 'Multiple default SIP Trunks matched for "+19999"'
    )


def test_rule_selection_priorities_and_exact_numbers(lk, control):
    t = trunk(lk, ["+15550004000"])
    rule(lk, direct_rule("wild"))
    assert control.call("+1", "+15550004000")["room_name"] == "wild"
    rule(lk, direct_rule("open", [t]))
    assert (
        control.call("+1", "+15550004000")["room_name"] == "open"
    )  # trunk-specific beats wildcard
    rule(lk, direct_rule("caller", [t], inbound_numbers=["+1222"]))
    assert (
        control.call("+1222", "+15550004000")["room_name"] == "caller"
    )  # inbound filter: higher priority
    assert (
        control.call("1222", "+15550004000")["room_name"] == "open"
    )  # exact strings, no normalising
    rule(lk, direct_rule("pinned", [t], pin="4321"))
    assert control.call("+1", "+15550004000")["result"] == "request_pin"
    assert control.call("+1", "+15550004000", pin="4321")["room_name"] == "pinned"


def test_no_rule_drops_and_no_trunk_falls_back_to_wildcard_rules(lk, control):
    t = trunk(lk, ["+15550005000"])
    rule(lk, direct_rule("other", ["ST_someoneelse"]))
    result = control.call("+1", "+15550005000")
    assert (result["result"], result["trunk_id"]) == ("drop", t)
    assert control.call("+1", "+15550005999")["result"] == "no_trunk"
    rule(lk, direct_rule("catchall"))
    result = control.call("+1", "+15550005999")  # OSS: wildcard rules take trunkless calls
    assert (result["result"], result["trunk_id"], result["room_name"]) == (
        "dispatch",
        "",
        "catchall",
    )
