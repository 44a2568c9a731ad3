"""The batch path through the real gateway (livekit-api) against the emulator over HTTP.

Ground truth is the emulator's state and request log: every clinic ends with exactly one
trunk and one rule, whatever replies were lost, and the batch keeps to its in-flight limit.
"""

from __future__ import annotations

import json

import pytest

from telephony import services
from telephony.models import Provisioning, ProvisioningEvent
from telephony.provisioning.reconcile import reconcile_batch, reconcile_clinic
from tests.factories import UserFactory, make_clinic
from tests.telephony.test_reconcile_emulator import (  # noqa: F401 (the one-clinic path's
    emulator_args,  # emulators, both wordings,
    lk_settings,  # and settings)
)

pytestmark = pytest.mark.django_db


def go_live(n: int) -> list[str]:
    owner = UserFactory()
    ids = []
    for i in range(n):
        clinic = make_clinic(owner, f"Emu batch {i}")
        services.phone_number_add(clinic=clinic, number=f"+1415558{i:04d}")
        services.clinic_go_live(clinic=clinic, actor=owner)
        ids.append(str(clinic.pk))
    return ids


def owners(items: list[dict]) -> list[str]:
    return sorted(json.loads(i["metadata"] or "{}").get("clinic", "") for i in items)


def test_a_batch_goes_live_through_livekit_api_within_its_in_flight_limit(lk, settings):
    settings.PROVISIONING_BATCH_IN_FLIGHT = 3
    lk.add_faults([{"method": "*", "action": "latency", "latency_ms": 60}])
    ids = go_live(8)

    result = reconcile_batch(ids)

    assert sorted(result.converged) == sorted(ids)
    state = lk.state()
    assert owners(state["inbound_trunks"]) == owners(state["dispatch_rules"]) == sorted(ids)
    log = lk.requests_summary()
    assert log["peak_in_flight"]["CreateSIPInboundTrunk"] <= 3
    assert log["peak_in_flight"]["CreateSIPDispatchRule"] <= 3
    assert len(log["requests"]) == 16
    for clinic_id in ids:
        p = Provisioning.objects.get(clinic_id=clinic_id)
        rule = next(
            r for r in state["dispatch_rules"] if r["sip_dispatch_rule_id"] == p.dispatch_rule_id
        )
        assert rule["trunk_ids"] == [p.trunk_id]
        assert (
            rule["rule"]["dispatch_rule_individual"]["room_prefix"]
            == f"{p.clinic.room_prefix}_main"
        )
    events = ProvisioningEvent.objects.filter(action="create_trunk", clinic_id__in=ids)
    assert all(e.request_id and e.duration_ms >= 60 for e in events)


def test_lost_replies_in_a_batch_are_adopted_afterwards_never_duplicated(lk):
    lk.add_faults(
        [
            {"method": "CreateSIPInboundTrunk", "action": "commit_then_drop", "probability": 0.5},
            {"method": "CreateSIPDispatchRule", "action": "commit_then_drop", "probability": 0.5},
        ]
    )
    ids = go_live(10)

    result = reconcile_batch(ids)
    assert result.retry  # some replies were lost: those clinics wait for a retry
    for clinic_id in result.retry:
        for _ in range(4):
            if reconcile_clinic(clinic_id).outcome == "converged":
                break

    state = lk.state()
    assert owners(state["inbound_trunks"]) == owners(state["dispatch_rules"]) == sorted(ids)
    creates = [r for r in lk.requests() if r["method"].startswith("Create")]
    dropped = [r for r in creates if r["dropped"]]
    assert dropped
    assert {p.state for p in Provisioning.objects.filter(clinic_id__in=ids)} == {"active"}
    adopted = ProvisioningEvent.objects.filter(action__startswith="adopt", clinic_id__in=ids)
    assert adopted.count() == len(dropped)
