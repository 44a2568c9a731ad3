"""The dry-run planner: the steps reconcile would take, computed from list calls only."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace

import pytest
from django.forms.models import model_to_dict

from telephony import services
from telephony.livekit_gateway import LiveKitGateway, TrunkSpec
from telephony.models import PhoneNumber, Provisioning, ProvisioningEvent
from telephony.provisioning.plan import ReadOnlyGateway, plan_clinic
from telephony.provisioning.reconcile import reconcile_clinic
from tests.console import staff_in
from tests.telephony.emulator_helpers import KEY, SECRET

pytestmark = pytest.mark.django_db
A, B, C = "+14155550401", "+14155550402", "+14155550403"


def steps(p):
    return [(s.action, s.kind) for s in p.steps]


def snapshot(clinic):
    """Everything reconcile could write, to prove that planning wrote nothing."""
    prov = model_to_dict(Provisioning.objects.get(clinic=clinic))
    prov.pop("updated_at", None)
    return prov, ProvisioningEvent.objects.count(), PhoneNumber.objects.count()


@pytest.fixture
def live(clinic, owner, fake_gateway):
    services.phone_number_add(clinic=clinic, number=A)
    services.clinic_go_live(clinic=clinic, actor=owner)
    return clinic


# --- against the in-memory fake ---------------------------------------------------------


def test_a_new_live_clinic_plans_create_trunk_then_create_rule(live, fake_gateway):
    p = plan_clinic(live.pk)
    assert steps(p) == [("create_trunk", "trunk"), ("create_rule", "rule")]
    assert p.upstream_steps == 2
    assert fake_gateway.calls == ["list_inbound_trunks"]  # by number: conflicts, adoption


def test_a_converged_clinic_is_in_sync(live, fake_gateway):
    reconcile_clinic(live.pk)
    fake_gateway.calls.clear()
    p = plan_clinic(live.pk)
    assert p.in_sync, p
    assert set(fake_gateway.calls) == {"list_inbound_trunks", "list_dispatch_rules"}


def test_a_changed_trunk_plans_an_update_naming_the_fields(live, fake_gateway):
    reconcile_clinic(live.pk)
    prov = Provisioning.objects.get(clinic=live)
    fake_gateway.tamper_trunk(prov.trunk_id, krisp_enabled=False, auth_password="x")
    p = plan_clinic(live.pk)
    assert steps(p) == [("update_trunk", "trunk")]
    assert set(p.steps[0].changes) == {"krisp_enabled", "auth_password"}


def test_a_missing_trunk_plans_recreate_and_repointing_the_rule(live, fake_gateway):
    reconcile_clinic(live.pk)
    prov = Provisioning.objects.get(clinic=live)
    del fake_gateway.trunks[prov.trunk_id]
    p = plan_clinic(live.pk)
    assert steps(p) == [("forget", "trunk"), ("create_trunk", "trunk"), ("update_rule", "rule")]
    assert p.steps[2].changes == ("trunk_ids",)


def test_suspend_plans_delete_rule_only(live, owner, fake_gateway):
    reconcile_clinic(live.pk)
    services.clinic_suspend(clinic=live, actor=owner)
    assert steps(plan_clinic(live.pk)) == [("delete_rule", "rule")]


def test_offboard_plans_delete_rule_delete_trunk_release_numbers(live, owner, fake_gateway):
    reconcile_clinic(live.pk)
    services.clinic_offboard(clinic=live, actor=owner)
    assert steps(plan_clinic(live.pk)) == [
        ("delete_rule", "rule"),
        ("delete_trunk", "trunk"),
        ("release_numbers", "numbers"),
    ]


def test_an_unconfirmed_create_of_ours_is_adopted_not_created(live, fake_gateway):
    from telephony.provisioning.desired import load_desired

    spec = load_desired(live.pk).trunk()
    trunk = fake_gateway.create_inbound_trunk(spec)
    Provisioning.objects.filter(clinic=live).update(
        trunk_intent=uuid.uuid4(), trunk_intent_numbers=[A]
    )
    p = plan_clinic(live.pk)
    assert steps(p) == [("adopt_trunk", "trunk"), ("create_rule", "rule")]
    assert p.steps[0].object_id == trunk.trunk_id


def test_a_foreign_trunk_on_our_number_is_a_blocked_step(live, fake_gateway):
    fake_gateway.create_inbound_trunk(TrunkSpec(name="theirs", metadata="", numbers=(A,)))
    p = plan_clinic(live.pk)
    assert steps(p) == [("blocked", "trunk")]
    assert A in p.steps[0].reason


def test_livekit_down_is_a_sentence_not_an_exception(live, settings):
    settings.LIVEKIT_GATEWAY = "telephony.livekit_gateway.LiveKitGateway"
    settings.LIVEKIT_URL = "http://127.0.0.1:1"
    p = plan_clinic(live.pk)
    assert p.error and not p.steps


def test_the_planner_cannot_reach_a_mutating_method(fake_gateway):
    ro = ReadOnlyGateway(fake_gateway)
    ro.list_inbound_trunks()
    for name in (
        "create_inbound_trunk",
        "replace_dispatch_rule",
        "delete_trunk",
        "delete_dispatch_rule",
    ):
        with pytest.raises(AttributeError):
            getattr(ro, name)


# --- against the emulator: ground truth for "no mutating call" --------------------------


def mutating(lk, since=0):
    return [r["method"] for r in lk.requests(since=since) if not r["method"].startswith("List")]


def test_plan_against_the_emulator_create_update_delete_with_zero_mutating_calls(
    clinic, owner, lk, client
):
    services.phone_number_add(clinic=clinic, number=A)
    services.phone_number_add(clinic=clinic, number=B)
    services.clinic_go_live(clinic=clinic, actor=owner)

    # 1. Nothing upstream yet: create both.
    before = snapshot(clinic)
    p = plan_clinic(clinic.pk)
    assert steps(p) == [("create_trunk", "trunk"), ("create_rule", "rule")]
    assert lk.requests() and mutating(lk) == []
    assert snapshot(clinic) == before

    # 2. Converged, then a number is added here and the rule is changed in LiveKit.
    assert reconcile_clinic(clinic.pk).outcome == "converged"
    services.phone_number_add(clinic=clinic, number=C)
    prov = Provisioning.objects.get(clinic=clinic)
    gw = LiveKitGateway(lk.base_url, KEY, SECRET, timeout=2)
    (rule,) = gw.list_dispatch_rules(rule_ids=[prov.dispatch_rule_id])
    gw.replace_dispatch_rule(rule.rule_id, replace(rule.as_spec(), room_prefix="tampered"))
    seen = len(lk.requests())
    before = snapshot(clinic)
    p = plan_clinic(clinic.pk)
    assert steps(p) == [("update_trunk", "trunk"), ("update_rule", "rule")]
    assert p.steps[0].changes == ("numbers",)
    assert "room_prefix" in p.steps[1].changes
    assert mutating(lk, since=seen) == []
    assert snapshot(clinic) == before

    # 3. Offboarded: delete the rule, then the trunk, then release the numbers.
    assert reconcile_clinic(clinic.pk, verify=True).outcome == "converged"
    services.clinic_offboard(clinic=clinic, actor=owner)
    seen = len(lk.requests())
    before = snapshot(clinic)
    prov = Provisioning.objects.get(clinic=clinic)
    p = plan_clinic(clinic.pk)
    assert [(s.action, s.object_id) for s in p.steps[:2]] == [
        ("delete_rule", prov.dispatch_rule_id),
        ("delete_trunk", prov.trunk_id),
    ]
    assert p.steps[2].action == "release_numbers"
    assert mutating(lk, since=seen) == []
    assert snapshot(clinic) == before

    # The staff page shows the same plan and makes no mutating call either.
    client.force_login(staff_in("support"))
    r = client.get(f"/admin/tenants/clinic/{clinic.pk}/plan/")
    page = r.content.decode()
    assert r.status_code == 200
    assert "delete_rule" in page and "delete_trunk" in page and "release_numbers" in page
    assert "2 mutating LiveKit calls" in page
    assert mutating(lk, since=seen) == []
    assert snapshot(clinic) == before
    state = lk.state()
    assert len(state["inbound_trunks"]) == 1 and len(state["dispatch_rules"]) == 1
    assert json.loads(state["dispatch_rules"][0]["metadata"])["clinic"] == str(clinic.pk)
