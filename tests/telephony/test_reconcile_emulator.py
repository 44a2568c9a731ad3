"""Reconcile through the real gateway (livekit-api) against the emulator over HTTP.

Integration level: reconcile runs in this process; LiveKit is the emulator subprocess, so
every request, conflict and fault is LiveKit-shaped. Ground truth is the emulator's state
and request log.
"""

from __future__ import annotations

import json
import uuid

import pytest

from telephony import services
from telephony.livekit_gateway import LiveKitGateway, RuleSpec, TrunkSpec
from telephony.models import Provisioning
from telephony.provisioning.reconcile import reconcile_clinic
from tests.telephony.emulator_helpers import KEY, SECRET

pytestmark = pytest.mark.django_db

A, B = "+14155550121", "+14155550122"


@pytest.fixture(scope="module", params=["livekit-wording", "reworded-errors"])
def emulator_args(request):
    """Every test runs twice: against LiveKit's error wording, and with the emulator
    rewording every invalid_argument (conflicts must be recognised by structure)."""
    return ["--reword-errors"] if request.param == "reworded-errors" else []


@pytest.fixture
def lk_settings():
    return {"LIVEKIT_RATE_LIMIT_MAX_WAIT_SECONDS": 1}


@pytest.fixture
def live(clinic, owner, lk):
    services.phone_number_add(clinic=clinic, number=A)
    services.phone_number_add(clinic=clinic, number=B)
    services.clinic_go_live(clinic=clinic, actor=owner)
    return clinic


def mine(items, clinic):
    return [i for i in items if json.loads(i["metadata"] or "{}").get("clinic") == str(clinic.pk)]


def prov(clinic):
    return Provisioning.objects.get(clinic=clinic)


def test_go_live_is_two_calls_and_lands_in_livekit(live, lk):
    assert reconcile_clinic(live.pk).outcome == "converged"

    assert [r["method"] for r in lk.requests()] == [
        "CreateSIPInboundTrunk",
        "CreateSIPDispatchRule",
    ]
    state = lk.state()
    (trunk,) = mine(state["inbound_trunks"], live)
    (rule,) = mine(state["dispatch_rules"], live)
    assert sorted(trunk["numbers"]) == [A, B]
    assert rule["trunk_ids"] == [trunk["sip_trunk_id"]]
    assert rule["rule"]["dispatch_rule_individual"]["room_prefix"] == f"{live.room_prefix}_main"
    call = lk.call("+15551234567", A)
    assert call["result"] == "dispatch", call
    assert call["room_name"].startswith(live.room_prefix + "_main_+15551234567_")
    assert json.loads(call["agents"][0]["metadata"])["clinic"] == str(live.pk)


def test_a_dropped_reply_is_adopted(live, lk):
    lk.add_faults([{"method": "CreateSIPInboundTrunk", "action": "commit_then_drop", "count": 1}])

    assert reconcile_clinic(live.pk).outcome == "retry"
    assert reconcile_clinic(live.pk).outcome == "converged"

    assert len(lk.created_ids("CreateSIPInboundTrunk")) == 1
    assert len(lk.state()["inbound_trunks"]) == 1
    assert prov(live).trunk_id == lk.created_ids("CreateSIPInboundTrunk")[0]


def test_a_create_that_hangs_past_the_timeout_is_adopted(live, lk):
    lk.add_faults([{"method": "CreateSIPDispatchRule", "action": "commit_then_hang", "count": 1}])

    assert reconcile_clinic(live.pk).outcome == "retry"
    assert reconcile_clinic(live.pk).outcome == "converged"

    assert len(lk.created_ids("CreateSIPDispatchRule")) == 1
    assert prov(live).dispatch_rule_id == lk.created_ids("CreateSIPDispatchRule")[0]


def test_commit_then_503_is_treated_as_unknown_and_adopted(live, lk):
    lk.add_faults(
        [
            {
                "method": "CreateSIPInboundTrunk",
                "action": "commit_then_status",
                "status": 503,
                "count": 1,
            }
        ]
    )
    reconcile_clinic(live.pk)
    reconcile_clinic(live.pk)
    assert len(lk.created_ids("CreateSIPInboundTrunk")) == 1


def test_503_then_recovery(live, lk):
    lk.add_faults([{"method": "*", "action": "status", "status": 503, "count": 2}])
    outcomes = [reconcile_clinic(live.pk).outcome for _ in range(3)]
    assert outcomes == ["retry", "retry", "converged"]
    assert prov(live).attempts == 0


def test_429_retry_after_is_recorded(live, lk):
    lk.add_faults(
        [
            {
                "method": "*",
                "action": "status",
                "status": 429,
                "code": "resource_exhausted",
                "retry_after": 7,
                "count": 1,
            }
        ]
    )
    result = reconcile_clinic(live.pk)
    assert result.outcome == "retry" and result.retry_in >= 7


def test_malformed_reply_is_transient(live, lk):
    lk.add_faults([{"method": "CreateSIPInboundTrunk", "action": "malformed_body", "count": 1}])
    assert reconcile_clinic(live.pk).outcome == "retry"
    assert reconcile_clinic(live.pk).outcome == "converged"
    assert len(lk.state()["inbound_trunks"]) == 1


def test_a_foreign_trunk_on_our_number_fails_clearly_and_is_never_touched(live, lk, emulator):
    gw = LiveKitGateway(emulator.url, KEY, SECRET, timeout=2)
    foreign = gw.create_inbound_trunk(
        TrunkSpec(name="someone else", metadata='{"owner":"x"}', numbers=(A,))
    )

    assert reconcile_clinic(live.pk).outcome == "failed"

    p = prov(live)
    assert A in p.last_error and "does not manage" in p.last_error
    assert [t["sip_trunk_id"] for t in lk.state()["inbound_trunks"]] == [foreign.trunk_id]
    assert not [r for r in lk.requests() if r["method"].startswith(("Update", "Delete"))]


def test_a_foreign_rule_on_our_trunk_fails_clearly_and_is_never_touched(live, lk, emulator):
    lk.add_faults([{"method": "CreateSIPDispatchRule", "action": "status", "status": 503}])
    assert reconcile_clinic(live.pk).outcome == "retry"
    lk.clear_faults()
    gw = LiveKitGateway(emulator.url, KEY, SECRET, timeout=2)
    foreign = gw.create_dispatch_rule(
        RuleSpec(
            name="someone else",
            metadata="",
            trunk_ids=(prov(live).trunk_id,),
            room_prefix="theirs",
            hide_phone_number=True,
            agents=(),
        )
    )

    assert reconcile_clinic(live.pk).outcome == "failed"

    p = prov(live)
    assert "dispatch rule" in p.last_error and "does not manage" in p.last_error
    assert [r["sip_dispatch_rule_id"] for r in lk.state()["dispatch_rules"]] == [foreign.rule_id]
    assert not [r for r in lk.requests() if r["method"].startswith(("Update", "Delete"))]


def test_a_number_still_held_by_another_of_our_clinics_waits(live, lk, emulator, settings):
    gw = LiveKitGateway(emulator.url, KEY, SECRET, timeout=2)
    marker = json.dumps(
        {"clinic": str(uuid.uuid4()), "switchboard": settings.SWITCHBOARD_DEPLOYMENT_ID},
        sort_keys=True,
        separators=(",", ":"),
    )
    gw.create_inbound_trunk(TrunkSpec(name="another clinic", metadata=marker, numbers=(A,)))

    result = reconcile_clinic(live.pk)

    assert result.outcome == "retry", result
    assert "another clinic" in prov(live).last_error
    assert len(lk.state()["inbound_trunks"]) == 1


def test_wrong_secret_opens_the_circuit(live, lk, settings):
    settings.LIVEKIT_API_SECRET = "wrong-secret-0123456789abcdef0123456789"

    assert reconcile_clinic(live.pk).outcome == "failed"
    before = len(lk.requests())
    assert reconcile_clinic(live.pk).outcome == "noop"  # failed clinics wait for a change
    assert "credentials" in prov(live).last_error
    assert len(lk.requests()) == before


def test_editing_numbers_and_offboarding(live, lk, owner):
    reconcile_clinic(live.pk)
    services.phone_number_remove(clinic=live, e164=A)
    reconcile_clinic(live.pk)
    (trunk,) = lk.state()["inbound_trunks"]
    assert trunk["numbers"] == [B]

    services.clinic_offboard(clinic=live, actor=owner)
    assert reconcile_clinic(live.pk).outcome == "converged"
    assert lk.state()["inbound_trunks"] == [] and lk.state()["dispatch_rules"] == []
    assert prov(live).state == "deprovisioned"
