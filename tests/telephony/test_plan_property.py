"""Dry run == reality, as a property: for generated desired/observed pairs, the mutating calls a
verifying reconcile commits in LiveKit are exactly the plan's upstream steps, in order; after it,
a fresh plan is empty; nothing without this clinic's marker is ever changed or deleted.

Generated: the clinic's numbers, its receptionists (one to three) and which answers each
number (a dispatch rule per line, decision 0085), and what changes (a number added or moved to
another line, a line or the first receptionist deleted, suspended, offboarded), what an
earlier run left (including a line's rule whose create reply was lost) (nothing, converged, a trunk whose rule create failed, a
create whose reply was lost, an intent whose create never reached LiveKit, an object of ours
the database does not know: adopted), changes made in LiveKit behind Switchboard's back (a
field changed, an object deleted), foreign trunks holding one of the clinic's numbers, and
trunks of other clinics of ours (live, or deleted from the database) holding one. Against the
emulator over HTTP; ground truth is its request log and state.
"""

from __future__ import annotations

import itertools
import json
import uuid
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from telephony import receptionists, services
from telephony.livekit_gateway import LiveKitGateway, TrunkSpec
from telephony.models import LineRule, PhoneNumber, Provisioning, Receptionist
from telephony.provisioning.plan import plan_clinic
from telephony.provisioning.reconcile import reconcile_clinic
from tests.factories import UserFactory, make_clinic
from tests.telephony.emulator_helpers import KEY, SECRET

pytestmark = pytest.mark.django_db

CALL = {
    "create_trunk": "CreateSIPInboundTrunk",
    "update_trunk": "UpdateSIPInboundTrunk",
    "delete_trunk": "DeleteSIPTrunk",
    "create_rule": "CreateSIPDispatchRule",
    "update_rule": "UpdateSIPDispatchRule",
    "delete_rule": "DeleteSIPDispatchRule",
}
_numbers = itertools.count(1)


@pytest.fixture
def lk_settings():
    # The limiter out of the way: 200 generated cases make many calls.
    return {"LIVEKIT_RATE_LIMIT_PER_MINUTE": 1_000_000.0, "LIVEKIT_RATE_LIMIT_BURST": 1_000_000.0}


scenarios = st.fixed_dictionaries(
    {
        "numbers": st.integers(min_value=1, max_value=3),
        "receptionists": st.integers(min_value=1, max_value=3),
        "assign": st.lists(st.integers(0, 2), min_size=3, max_size=3),
        "earlier": st.sampled_from(
            [
                "none",
                "converged",
                "rule_failed",
                "trunk_lost",
                "rule_lost",
                "line_lost",
                "intent_unsent",
                "unrecorded",
            ]
        ),
        "tamper": st.sampled_from(
            [
                "none",
                "trunk_changed",
                "rule_changed",
                "trunk_deleted",
                "rule_deleted",
                "line_changed",
                "line_deleted",
            ]
        ),
        "foreign": st.booleans(),
        "other_clinic": st.sampled_from(["none", "live", "deleted"]),
        "then": st.sampled_from(
            [
                "stay",
                "add_number",
                "move_number",
                "delete_line",
                "delete_first",
                "suspend",
                "offboard",
            ]
        ),
    }
)


def _number() -> str:
    return f"+1415580{next(_numbers):04d}"


def _assign(clinic, numbers: list[str], assign: list[int]) -> None:
    """Each number to the receptionist the case says (the first when there is one)."""
    rows = list(Receptionist.objects.for_clinic(clinic).order_by("id"))
    for number, index in zip(numbers, assign, strict=False):
        target = rows[index % len(rows)]
        receptionists.phone_number_assign(clinic=clinic, e164=number, receptionist=target)


def _earlier_run(lk, clinic, earlier: str, numbers: list[str], assign: list[int]) -> None:
    if earlier == "line_lost":
        # A converged clinic whose numbers then move to their lines; the first line rule's
        # create reply is lost.
        reconcile_clinic(clinic.pk)
        _assign(clinic, numbers, assign)
        lost = {"method": "CreateSIPDispatchRule", "action": "commit_then_drop", "count": 1}
        lk.add_faults([lost])
        reconcile_clinic(clinic.pk)
        lk.clear_faults()
        return
    _assign(clinic, numbers, assign)
    if earlier == "intent_unsent":
        # A run committed its intent and died before the create reached LiveKit.
        numbers = list(clinic.phone_numbers.values_list("e164", flat=True))
        Provisioning.objects.filter(clinic=clinic).update(
            trunk_intent=uuid.uuid4(), trunk_intent_numbers=numbers
        )
        return
    if earlier == "unrecorded":
        # Ours in LiveKit, unknown to the database (a restored backup): adopted, not created.
        from telephony.provisioning.desired import load_desired

        gw = LiveKitGateway(lk.base_url, KEY, SECRET, timeout=2)
        gw.create_inbound_trunk(load_desired(clinic.pk).trunk())
        return
    faults = {
        "rule_failed": [{"method": "CreateSIPDispatchRule", "action": "status", "status": 503}],
        "trunk_lost": [{"method": "CreateSIPInboundTrunk", "action": "commit_then_drop"}],
        "rule_lost": [{"method": "CreateSIPDispatchRule", "action": "commit_then_drop"}],
    }
    if earlier == "none":
        return
    for rule in faults.get(earlier, []):
        lk.add_faults([{**rule, "count": 1}])
    reconcile_clinic(clinic.pk)
    lk.clear_faults()


def _tamper(gw: LiveKitGateway, clinic, tamper: str) -> None:
    prov = Provisioning.objects.get(clinic=clinic)
    if tamper.startswith("trunk") and prov.trunk_id:
        found = gw.list_inbound_trunks(trunk_ids=[prov.trunk_id])
        if found and tamper == "trunk_changed":
            spec = found[0].as_spec()
            gw.replace_inbound_trunk(
                prov.trunk_id, replace(spec, krisp_enabled=not spec.krisp_enabled)
            )
        elif found:
            gw.delete_trunk(prov.trunk_id)
    rule_id = prov.dispatch_rule_id
    if tamper.startswith("line"):
        line = LineRule.objects.filter(clinic=clinic).exclude(rule_id="").first()
        rule_id = line.rule_id if line else ""
    if tamper.startswith(("rule", "line")) and rule_id:
        found_rules = gw.list_dispatch_rules(rule_ids=[rule_id])
        if found_rules and tamper.endswith("_changed"):
            spec = found_rules[0].as_spec()
            gw.replace_dispatch_rule(rule_id, replace(spec, room_prefix="tampered"))
        elif found_rules:
            gw.delete_dispatch_rule(rule_id)


def _then(clinic, owner, then: str, extra: str, numbers: list[str]) -> None:
    rows = list(Receptionist.objects.for_clinic(clinic).order_by("id"))
    if then == "add_number":
        services.phone_number_add(clinic=clinic, number=extra)
    elif then == "move_number" and len(rows) > 1:
        phone = PhoneNumber.objects.get(e164=numbers[0])
        at = [r.pk for r in rows].index(phone.receptionist_id)
        target = rows[(at + 1) % len(rows)]
        receptionists.phone_number_assign(clinic=clinic, e164=numbers[0], receptionist=target)
    elif then == "delete_line" and len(rows) > 1:
        receptionists.receptionist_delete(receptionist=rows[-1])
    elif then == "delete_first" and len(rows) > 1:
        receptionists.receptionist_delete(receptionist=rows[0])
    elif then == "suspend":
        services.clinic_suspend(clinic=clinic, actor=owner)
    elif then == "offboard":
        services.clinic_offboard(clinic=clinic, actor=owner)


def _foreign_trunk(gw: LiveKitGateway, lk, number: str) -> str | None:
    """A trunk Switchboard does not manage on one of the clinic's numbers, if LiveKit takes it
    (it refuses when our own trunk already holds the number)."""
    held = gw.list_inbound_trunks(numbers=[number])
    if any(number in t.numbers for t in held):
        return None
    return gw.create_inbound_trunk(
        TrunkSpec(name="someone else", metadata='{"owner":"x"}', numbers=(number,))
    ).trunk_id


def _other_clinics_trunk(gw: LiveKitGateway, holder: str, number: str) -> None:
    """A trunk of another clinic of this deployment on `number` (that clinic is releasing
    it, or was deleted from the database and its trunk is an orphan)."""
    if any(number in t.numbers for t in gw.list_inbound_trunks(numbers=[number])):
        return
    from django.conf import settings as dj

    metadata = json.dumps({"clinic": holder, "switchboard": dj.SWITCHBOARD_DEPLOYMENT_ID})
    gw.create_inbound_trunk(TrunkSpec(name="other", metadata=metadata, numbers=(number,)))


def _not_ours(lk, clinic) -> dict[str, str]:
    state = lk.state()
    out = {}
    for kind, items in (("trunk", state["inbound_trunks"]), ("rule", state["dispatch_rules"])):
        for item in items:
            if json.loads(item["metadata"] or "{}").get("clinic") != str(clinic.pk):
                oid = item.get("sip_trunk_id") or item.get("sip_dispatch_rule_id")
                out[oid] = json.dumps(item, sort_keys=True)
    return out


def _calls_reach_their_lines(lk, clinic) -> None:
    """Reality, not only the plan: a call to each number reaches its receptionist's line."""
    clinic.refresh_from_db()
    phones = PhoneNumber.objects.filter(clinic=clinic).select_related("receptionist")
    event(f"lines with a rule of their own: {LineRule.objects.filter(clinic=clinic).count()}")
    for phone in phones if clinic.state == "live" else ():
        call = lk.call("+15557654321", phone.e164)
        assert call["result"] == "dispatch", call
        line = f"{clinic.room_prefix}_{phone.receptionist.slug}_"
        assert call["room_name"].startswith(line), (call["room_name"], line)
        meta = json.loads(call["agents"][0]["metadata"])
        assert meta["receptionist"] == phone.receptionist_id


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=scenarios)
def test_the_dry_run_is_what_a_verifying_reconcile_does(lk, case):
    lk.reset()
    owner = UserFactory()
    clinic = make_clinic(owner, f"Prop {uuid.uuid4().hex[:6]}")
    numbers = [_number() for _ in range(case["numbers"])]
    for number in numbers:
        services.phone_number_add(clinic=clinic, number=number)
    for n in range(1, case["receptionists"]):
        receptionists.receptionist_create(clinic=clinic, name=f"Line {n}")
    services.clinic_go_live(clinic=clinic, actor=owner)
    gw = LiveKitGateway(lk.base_url, KEY, SECRET, timeout=2)

    _earlier_run(lk, clinic, case["earlier"], numbers, case["assign"])
    _tamper(gw, clinic, case["tamper"])
    if case["foreign"]:
        _foreign_trunk(gw, lk, numbers[-1])
    extra = _number()
    if case["other_clinic"] != "none":
        holder = str(uuid.uuid4())
        if case["other_clinic"] == "live":
            holder = str(make_clinic(owner, f"Other {uuid.uuid4().hex[:6]}").pk)
        _other_clinics_trunk(gw, holder, extra if case["then"] == "add_number" else numbers[0])
    clinic.refresh_from_db()
    _then(clinic, owner, case["then"], extra, numbers)
    foreign_before = _not_ours(lk, clinic)

    plan = plan_clinic(clinic.pk)
    assert not plan.error, plan.error
    planned = [CALL[s.action] for s in plan.steps if s.upstream]
    seen = max((r["seq"] for r in lk.requests()), default=0)

    result = reconcile_clinic(clinic.pk, verify=True)

    done = [
        r["method"]
        for r in lk.requests(since=seen)
        if r["method"].startswith(("Create", "Update", "Delete")) and r.get("committed")
    ]
    assert done == planned, (case, result, plan.steps)
    for step in plan.steps:
        event(f"step {step.action}")  # shown with --hypothesis-show-statistics
    event(f"outcome {result.outcome}")
    assert _not_ours(lk, clinic) == foreign_before
    after = plan_clinic(clinic.pk)
    if result.outcome == "converged":
        assert after.in_sync, (case, after.steps)
        _calls_reach_their_lines(lk, clinic)
    else:
        # Stopped by a holder that is not ours: everything before it was applied.
        assert [s.action for s in after.steps] in (["blocked"], ["wait"]), (case, after.steps)
        assert not after.upstream_steps
