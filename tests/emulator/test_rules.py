"""Dispatch rules: validation, the (PIN, trunk, inbound, number) conflict key, updates, list,
delete (livekit-sip.md §4.3, §4.4, §4.5, §4.6)."""

from __future__ import annotations

import re

import pytest
from livekit import api
from livekit.protocol import sip as proto_sip

from .helpers import ID_RE, call_sip, direct_rule, individual_rule

CONFLICT = (
    "Dispatch rule for the same trunk, inbound number, number, and PIN combination "
    "already exists in dispatch rule"
)


def expect_error(lk, fn, code="invalid_argument"):
    with pytest.raises(api.TwirpError) as caught:
        lk(fn)
    assert caught.value.code == code, caught.value
    return caught.value.message


def create(lk, req):
    return lk(lambda c: c.sip.create_dispatch_rule(req))


def test_ids_and_no_trunk_existence_check(lk):
    rule = create(lk, individual_rule(["ST_doesnotexist"]))
    assert re.fullmatch("SDR_" + ID_RE, rule.sip_dispatch_rule_id)


@pytest.mark.parametrize(
    ("req", "msg"),
    [
        (
            api.CreateSIPDispatchRuleRequest(
                dispatch_rule=api.SIPDispatchRuleInfo(trunk_ids=["ST_a"])
            ),
            "missing rule",
        ),
        (api.CreateSIPDispatchRuleRequest(trunk_ids=["ST_a"]), "missing rule"),
        (
            api.CreateSIPDispatchRuleRequest(
                dispatch_rule=api.SIPDispatchRuleInfo(
                    sip_dispatch_rule_id="SDR_x", rule=api.SIPDispatchRule()
                )
            ),
            "rule id must not be set",
        ),
        (
            api.CreateSIPDispatchRuleRequest(
                dispatch_rule=api.SIPDispatchRuleInfo(rule=api.SIPDispatchRule())
            ),
            "unsupported SIP Dispatch Rule: <nil>",
        ),
    ],
)
def test_invalid_rules(lk, req, msg):
    assert expect_error(lk, lambda c: c.sip.create_dispatch_rule(req)) == msg


def test_same_key_conflicts_whatever_the_rule_type(lk):
    first = create(lk, individual_rule(["ST_a"], name="clinic-a"))
    msg = expect_error(
        lk, lambda c: c.sip.create_dispatch_rule(direct_rule("room", ["ST_b", "ST_a"]))
    )
    assert msg == f'{CONFLICT} "{first.sip_dispatch_rule_id}" "clinic-a"'


@pytest.mark.parametrize(
    "second",
    [
        individual_rule(["ST_a"], pin="1234"),  # different PIN
        individual_rule(["ST_b"]),  # different trunk
        individual_rule([]),  # wildcard vs specific
        individual_rule(["ST_a"], numbers=["+15550000001"]),
        individual_rule(["ST_a"], inbound_numbers=["+15550000002"]),
    ],
)
def test_rules_that_differ_in_the_key_do_not_conflict(lk, second):
    create(lk, individual_rule(["ST_a"]))
    assert create(lk, second).sip_dispatch_rule_id


def test_two_catch_all_rules_conflict_and_numbers_are_normalised_in_the_key(lk):
    first = create(lk, direct_rule("lobby"))
    assert expect_error(lk, lambda c: c.sip.create_dispatch_rule(individual_rule([]))) == (
        f'{CONFLICT} "{first.sip_dispatch_rule_id}" "<blank name>"'
    )
    create(lk, individual_rule(["ST_a"], inbound_numbers=["+15551112222"]))
    expect_error(
        lk,
        lambda c: c.sip.create_dispatch_rule(
            individual_rule(["ST_a"], inbound_numbers=["1 555 111 2222"])
        ),
    )


def test_legacy_flat_create_form(lk):
    req = api.CreateSIPDispatchRuleRequest(
        rule=api.SIPDispatchRule(dispatch_rule_direct=api.SIPDispatchRuleDirect(room_name="r")),
        trunk_ids=["ST_l"],
        name="legacy",
        hide_phone_number=True,
    )
    rule = create(lk, req)
    assert (list(rule.trunk_ids), rule.name, rule.hide_phone_number) == (["ST_l"], "legacy", True)
    expect_error(lk, lambda c: c.sip.create_dispatch_rule(req))


def test_update_arms(lk):
    rule = create(lk, individual_rule(["ST_a"], attributes={"keep": "1", "drop": "2"}, name="n"))
    rid = rule.sip_dispatch_rule_id
    new = lk(
        lambda c: c.sip.update_dispatch_rule_fields(
            rid,
            trunk_ids=api.ListUpdate(add=["ST_b"]),
            attributes={"drop": "", "new": "3"},
            metadata="m",
        )
    )
    assert list(new.trunk_ids) == ["ST_a", "ST_b"] and dict(new.attributes) == {
        "keep": "1",
        "new": "3",
    }
    assert (new.name, new.metadata) == ("n", "m")
    callee = api.SIPDispatchRule(dispatch_rule_callee=api.SIPDispatchRuleCallee(room_prefix="c"))
    new = lk(lambda c: c.sip.update_dispatch_rule_fields(rid, rule=callee))
    assert new.rule == callee
    replaced = lk(
        lambda c: c.sip.update_dispatch_rule(rid, api.SIPDispatchRuleInfo(rule=callee, name="r"))
    )
    assert (replaced.sip_dispatch_rule_id, list(replaced.trunk_ids), replaced.name) == (
        rid,
        [],
        "r",
    )
    assert (
        expect_error(lk, lambda c: c.sip.update_dispatch_rule(rid, api.SIPDispatchRuleInfo()))
        == "missing rule"
    )
    assert expect_error(
        lk,
        lambda c: c.sip.update_dispatch_rule(
            rid, api.SIPDispatchRuleInfo(sip_dispatch_rule_id="SDR_other", rule=callee)
        ),
    ) == ("rule id in the info must be empty or match the id in the update")
    assert (
        expect_error(
            lk,
            lambda c: c.sip.update_dispatch_rule("SDR_none", api.SIPDispatchRuleInfo(rule=callee)),
            "not_found",
        )
        == "requested sip dispatch rule does not exist"
    )
    assert (
        expect_error(
            lk,
            lambda c: call_sip(
                c,
                "UpdateSIPDispatchRule",
                proto_sip.UpdateSIPDispatchRuleRequest(sip_dispatch_rule_id=rid),
                proto_sip.SIPDispatchRuleInfo,
            ),
        )
        == "missing or unsupported update action"
    )


def test_update_revalidates_conflicts_with_the_oss_gap(lk):
    create(lk, individual_rule(["ST_a"]))
    r2 = create(lk, individual_rule(["ST_b"]))
    expect_error(
        lk,
        lambda c: c.sip.update_dispatch_rule_fields(
            r2.sip_dispatch_rule_id, trunk_ids=api.ListUpdate(add=["ST_a"])
        ),
    )
    # Replace onto trunks the stored rule does not share: OSS does not catch it (§4.2, §4.4).
    moved = lk(
        lambda c: c.sip.update_dispatch_rule_fields(
            r2.sip_dispatch_rule_id, trunk_ids=api.ListUpdate(set=["ST_a"])
        )
    )
    assert list(moved.trunk_ids) == ["ST_a"]
    # Now the stored rules clash, so every create that lists all rules fails, as in OSS.
    expect_error(lk, lambda c: c.sip.create_dispatch_rule(individual_rule(["ST_zzz"])))


def test_list_and_delete(lk):
    a = create(lk, individual_rule(["ST_a"]))
    b = create(lk, individual_rule(["ST_b"]))
    wild = create(lk, individual_rule([]))

    def ids(req):
        return [r.sip_dispatch_rule_id for r in lk(lambda c: c.sip.list_dispatch_rule(req)).items]

    assert ids(api.ListSIPDispatchRuleRequest(trunk_ids=["ST_a"])) == sorted(
        [a.sip_dispatch_rule_id, wild.sip_dispatch_rule_id]
    )
    assert ids(
        api.ListSIPDispatchRuleRequest(dispatch_rule_ids=[b.sip_dispatch_rule_id, "SDR_gone"])
    ) == [b.sip_dispatch_rule_id]
    everything = ids(api.ListSIPDispatchRuleRequest())
    assert (
        ids(api.ListSIPDispatchRuleRequest(page=api.Pagination(after_id=everything[1])))
        == everything[2:]
    )
    deleted = lk(
        lambda c: c.sip.delete_dispatch_rule(
            api.DeleteSIPDispatchRuleRequest(sip_dispatch_rule_id=a.sip_dispatch_rule_id)
        )
    )
    assert deleted == a  # the full rule comes back
    assert (
        expect_error(
            lk,
            lambda c: c.sip.delete_dispatch_rule(
                api.DeleteSIPDispatchRuleRequest(sip_dispatch_rule_id=a.sip_dispatch_rule_id)
            ),
            "not_found",
        )
        == "requested sip dispatch rule does not exist"
    )
    assert expect_error(
        lk, lambda c: c.sip.delete_dispatch_rule(api.DeleteSIPDispatchRuleRequest())
    ) == ("dispatch rule ID is required")


def test_deleting_a_trunk_does_not_cascade_to_rules(lk, control):
    t = lk(
        lambda c: c.sip.create_inbound_trunk(
            api.CreateSIPInboundTrunkRequest(
                trunk=api.SIPInboundTrunkInfo(numbers=["+15550009999"])
            )
        )
    )
    create(lk, individual_rule([t.sip_trunk_id]))
    lk(lambda c: c.sip.delete_trunk(api.DeleteSIPTrunkRequest(sip_trunk_id=t.sip_trunk_id)))
    assert [r["trunk_ids"] for r in control.state()["dispatch_rules"]] == [[t.sip_trunk_id]]
