"""Several lines on one shared trunk: rules that differ only in `numbers` (issue 15,
docs/decisions/0065), proven with livekit-api against the emulator.

The design: the clinic's trunk holds all its numbers; its first receptionist's rule is bound
to the trunk without a `numbers` filter (it answers every number no other rule names); each
other receptionist's rule is bound to the same trunk with `numbers` = its numbers. LiveKit
prefers a rule with a `numbers` filter (a rule without one takes a 1000 penalty in
`DispatchRulePriority`), and keys rules by (PIN, trunk, caller, called number), so the
trunk-wide rule and numbered rules coexist, while two rules naming one number conflict.
"""

from __future__ import annotations

import re

import pytest
from livekit import api

from .helpers import ID_RE, inbound, individual_rule

N1, N2, N3 = "+15550007001", "+15550007002", "+15550007003"
CALLER = "+15557654321"


def trunk(lk, numbers):
    return lk(lambda c: c.sip.create_inbound_trunk(inbound(numbers))).sip_trunk_id


def rule(lk, trunk_id, line, numbers=()):
    req = individual_rule([trunk_id], prefix=f"smile_{line}", numbers=list(numbers), name=line)
    return lk(lambda c: c.sip.create_dispatch_rule(req)).sip_dispatch_rule_id


def replace(lk, rule_id, trunk_id, line, numbers):
    info = individual_rule([trunk_id], prefix=f"smile_{line}", numbers=list(numbers), name=line)
    return lk(lambda c: c.sip.update_dispatch_rule(rule_id, info.dispatch_rule))


def line_of(control, called):
    """Which line a simulated call to `called` reaches (None: not dispatched)."""
    result = control.call(CALLER, called)
    if result["result"] != "dispatch":
        return None
    match = re.fullmatch(r"smile_([a-z-]+)_\+15557654321_" + ID_RE, result["room_name"])
    assert match, result["room_name"]
    return match.group(1)


def test_a_numbered_rule_takes_its_numbers_and_the_trunk_wide_rule_the_rest(lk, control):
    t = trunk(lk, [N1, N2, N3])
    rule(lk, t, "main")
    rule(lk, t, "spanish", [N2])
    assert [line_of(control, n) for n in (N1, N2, N3)] == ["main", "spanish", "main"]


def test_the_order_of_creation_does_not_matter(lk, control):
    t = trunk(lk, [N1, N2])
    rule(lk, t, "spanish", [N2])
    rule(lk, t, "main")
    assert [line_of(control, n) for n in (N1, N2)] == ["main", "spanish"]


def test_two_rules_cannot_name_the_same_number_on_one_trunk(lk):
    t = trunk(lk, [N1, N2])
    rule(lk, t, "main")
    spanish = rule(lk, t, "spanish", [N2])
    with pytest.raises(api.TwirpError) as caught:
        rule(lk, t, "billing", [N2, N1])
    assert caught.value.code == "invalid_argument"
    assert spanish in caught.value.message
    billing = rule(lk, t, "billing", [N1])
    with pytest.raises(api.TwirpError) as caught:  # nor by an update
        replace(lk, billing, t, "billing", [N1, N2])
    assert caught.value.code == "invalid_argument"


def test_emptying_a_numbered_rule_makes_it_a_second_trunk_wide_rule_which_conflicts(lk):
    t = trunk(lk, [N1, N2])
    rule(lk, t, "main")
    spanish = rule(lk, t, "spanish", [N2])
    with pytest.raises(api.TwirpError) as caught:
        replace(lk, spanish, t, "spanish", [])
    assert caught.value.code == "invalid_argument"


def test_moving_a_number_between_lines_never_leaves_it_unrouted(lk, control):
    """The order Switchboard uses (decision 0065): a number moves to a numbered line by
    growing that rule (the trunk-wide rule had it: no gap); between two numbered lines it
    leaves the old rule first and is answered by the trunk-wide line until the new rule
    takes it, because both cannot hold it at once."""
    t = trunk(lk, [N1, N2, N3])
    rule(lk, t, "main")
    spanish = rule(lk, t, "spanish", [N2])
    seen = [line_of(control, N1)]
    replace(lk, spanish, t, "spanish", [N1, N2])  # main -> spanish: one update
    seen.append(line_of(control, N1))
    billing = rule(lk, t, "billing", [N3])  # a third line, with another number
    replace(lk, spanish, t, "spanish", [N2])  # spanish -> billing: leave first ...
    seen.append(line_of(control, N1))
    replace(lk, billing, t, "billing", [N1, N3])  # ... then join
    seen.append(line_of(control, N1))
    gone = api.DeleteSIPDispatchRuleRequest(sip_dispatch_rule_id=billing)
    lk(lambda c: c.sip.delete_dispatch_rule(gone))  # a line deleted: back to main
    seen.append(line_of(control, N1))
    assert seen == ["main", "spanish", "main", "billing", "main"]
    assert None not in [line_of(control, n) for n in (N1, N2, N3)]
