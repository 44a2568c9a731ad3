"""The pure call evaluator (livekit-sip.md §4.7, §5.2)."""

from __future__ import annotations

from telephony.callplan import RANDOM_PART, evaluate, match_rule, normalize_number, rule_priority
from telephony.livekit_gateway import AgentDispatch, RemoteRule, RemoteTrunk

CALLER, DID = "+14155559876", "+14155550100"
AGENT = AgentDispatch("switchboard-receptionist", '{"clinic":"c1","config_version":3}')


def trunk(tid="ST_a", numbers=(DID,), allowed_numbers=()):
    return RemoteTrunk(
        name=tid, metadata="", numbers=tuple(numbers), trunk_id=tid,
        allowed_numbers=tuple(allowed_numbers),
    )  # fmt: skip


def rule(rid="SDR_a", trunk_ids=("ST_a",), **kw):
    defaults = dict(
        name=rid, metadata="", trunk_ids=tuple(trunk_ids), room_prefix="bright-ab12",
        hide_phone_number=True, agents=(AGENT,), attributes=(("switchboard.clinic", "c1"),),
    )  # fmt: skip
    defaults.update(kw)
    return RemoteRule(rule_id=rid, **defaults)


def test_normalize_number_follows_livekit():
    assert normalize_number("1 (415) 555-0100") == "+14155550100"
    assert normalize_number("+1 415 555 0100") == "+14155550100"
    assert normalize_number("alice") == "alice"
    assert normalize_number("") == ""


def test_our_clinic_call_dispatches_the_agent_into_a_prefixed_room_with_hidden_number():
    plan = evaluate([trunk()], [rule()], caller=CALLER, called=DID)
    assert plan.outcome == "dispatch"
    assert (plan.trunk_id, plan.rule_id) == ("ST_a", "SDR_a")
    assert plan.room_name_pattern == f"bright-ab12_9876_{RANDOM_PART}"
    assert plan.agents == (AGENT,)
    assert plan.attributes["switchboard.clinic"] == "c1"
    assert plan.attributes["sip.trunkID"] == "ST_a"


def test_room_names_for_other_rule_shapes():
    shown = evaluate([trunk()], [rule(hide_phone_number=False)], caller=CALLER, called=DID)
    assert shown.room_name_pattern == f"bright-ab12_{CALLER}_{RANDOM_PART}"
    fixed = evaluate([trunk()], [rule(no_randomness=True)], caller=CALLER, called=DID)
    assert fixed.room_name_pattern == "bright-ab12_9876"
    direct = rule(rule_type="direct", room_prefix="", room_name="lobby")
    assert evaluate([trunk()], [direct], caller=CALLER, called=DID).room_name_pattern == "lobby"
    callee = rule(rule_type="callee", randomize=True)
    assert evaluate([trunk()], [callee], caller=CALLER, called=DID).room_name_pattern == (
        f"bright-ab12_{DID}_{RANDOM_PART}"
    )


def test_a_specific_trunk_beats_a_wildcard_trunk():
    plan = evaluate(
        [trunk("ST_w", numbers=()), trunk("ST_a")],
        [rule(), rule("SDR_w", ("ST_w",))],
        caller=CALLER,
        called=DID,
    )
    assert plan.trunk_id == "ST_a" and plan.rule_id == "SDR_a"


def test_two_specific_trunks_are_an_error_and_no_trunk_is_reported():
    both = evaluate([trunk("ST_a"), trunk("ST_b")], [], caller=CALLER, called=DID)
    assert both.outcome == "error" and "Multiple SIP Trunks" in both.message
    none = evaluate([trunk(numbers=("+14155550199",))], [rule()], caller=CALLER, called=DID)
    assert none.outcome == "no_trunk"


def test_allowed_numbers_filter_the_caller():
    only = trunk(allowed_numbers=("+14155550000",))
    assert evaluate([only], [rule()], caller=CALLER, called=DID).outcome == "no_trunk"
    ok = trunk(allowed_numbers=("1 415 555 9876",))
    assert evaluate([ok], [rule()], caller=CALLER, called=DID).outcome == "dispatch"


def test_no_matching_rule_drops_the_call():
    plan = evaluate([trunk()], [rule(trunk_ids=("ST_other",))], caller=CALLER, called=DID)
    assert plan.outcome == "drop" and plan.trunk_id == "ST_a"


def test_a_trunk_specific_rule_beats_a_catch_all_even_with_better_priority():
    catch_all = rule("SDR_all", trunk_ids=(), numbers=(DID,), inbound_numbers=(CALLER,))
    assert rule_priority(catch_all) < rule_priority(rule())
    assert match_rule([catch_all, rule()], trunk(), CALLER, DID).rule_id == "SDR_a"


def test_rule_numbers_compare_as_exact_strings():
    formatted = rule(numbers=("+1 415 555 0100",))
    assert evaluate([trunk()], [formatted], caller=CALLER, called=DID).outcome == "drop"


def test_priority_then_room_prefix_break_ties():
    pinned = rule("SDR_pin", pin="1234")
    assert evaluate([trunk()], [rule(), pinned], caller=CALLER, called=DID).outcome == (
        "request_pin"
    )
    a, b = rule("SDR_b", room_prefix="bbb"), rule("SDR_a2", room_prefix="aaa")
    assert match_rule([a, b], trunk(), CALLER, DID).rule_id == "SDR_a2"


def test_a_rule_without_agents_means_automatic_dispatch():
    plan = evaluate([trunk()], [rule(agents=())], caller=CALLER, called=DID)
    assert plan.agents == (AgentDispatch("", ""),)
