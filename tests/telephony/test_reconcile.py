"""The reconcile engine against the in-memory fake gateway (unit level)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from telephony import services
from telephony.livekit_gateway import LiveKitConflictError, LiveKitTransientError, TrunkSpec
from telephony.models import PhoneNumber, Provisioning, ProvisioningEvent, Receptionist
from telephony.provisioning.reconcile import acquire_lease, backoff_seconds, reconcile_clinic
from tenants.models import Clinic

pytestmark = pytest.mark.django_db

A, B = "+14155550101", "+14155550102"


@pytest.fixture
def live_clinic(clinic, owner, fake_gateway, django_capture_on_commit_callbacks):
    services.phone_number_add(clinic=clinic, number=A)
    services.phone_number_add(clinic=clinic, number=B)
    services.clinic_go_live(clinic=clinic, actor=owner)
    return clinic


def prov(clinic: Clinic) -> Provisioning:
    return Provisioning.objects.get(clinic=clinic)


def test_it_creates_one_trunk_and_one_rule_in_two_calls(live_clinic, fake_gateway):
    result = reconcile_clinic(live_clinic.pk)

    assert result.outcome == "converged"
    assert fake_gateway.calls == ["create_inbound_trunk", "create_dispatch_rule"]
    (trunk,) = fake_gateway.trunks.values()
    (rule,) = fake_gateway.rules.values()
    assert trunk.numbers == (A, B)
    assert rule.trunk_ids == (trunk.trunk_id,)
    assert rule.room_prefix == f"{live_clinic.room_prefix}_main"  # the line (decision 0085)
    assert rule.hide_phone_number is False  # decision 0031
    (agent,) = rule.agents
    assert json.loads(agent.metadata) == {
        "clinic": str(live_clinic.pk),
        "config_version": 1,
        "line": "main",  # the receptionist's line slug (decision 0085)
        "receptionist": Receptionist.objects.first_of(live_clinic).pk,
    }
    p = prov(live_clinic)
    assert (p.state, p.trunk_id, p.dispatch_rule_id) == ("active", trunk.trunk_id, rule.rule_id)
    assert p.observed_generation == p.generation
    assert p.lease_owner == ""


def test_a_second_run_makes_no_calls(live_clinic, fake_gateway):
    reconcile_clinic(live_clinic.pk)
    fake_gateway.calls.clear()

    assert reconcile_clinic(live_clinic.pk).outcome == "noop"
    assert fake_gateway.calls == []


def test_lost_reply_is_adopted_not_created_twice(live_clinic, fake_gateway):
    fake_gateway.fail("create_inbound_trunk", LiveKitTransientError("reply lost"), commit=True)

    first = reconcile_clinic(live_clinic.pk)
    assert first.outcome == "retry"
    assert prov(live_clinic).trunk_intent is not None
    assert reconcile_clinic(live_clinic.pk).outcome == "converged"

    assert len(fake_gateway.trunks) == 1
    assert fake_gateway.count("create_inbound_trunk") == 1
    assert ProvisioningEvent.objects.filter(clinic=live_clinic, action="adopt_trunk").count() == 1


def test_lost_rule_reply_is_adopted(live_clinic, fake_gateway):
    fake_gateway.fail("create_dispatch_rule", LiveKitTransientError("reply lost"), commit=True)
    reconcile_clinic(live_clinic.pk)
    reconcile_clinic(live_clinic.pk)

    assert len(fake_gateway.rules) == 1
    assert fake_gateway.count("create_dispatch_rule") == 1
    assert prov(live_clinic).state == "active"


def test_transient_failure_backs_off_and_records_a_sentence(live_clinic, fake_gateway):
    fake_gateway.fail("create_inbound_trunk", LiveKitTransientError("LiveKit is down."))

    result = reconcile_clinic(live_clinic.pk)

    p = prov(live_clinic)
    assert result.outcome == "retry" and result.retry_in is not None
    assert (p.state, p.attempts, p.last_error) == ("retrying", 1, "LiveKit is down.")
    assert p.next_attempt_at is not None


def test_retry_after_is_never_undercut():
    assert all(backoff_seconds(1, retry_after=5.0) >= 5.0 for _ in range(50))
    assert all(0 <= backoff_seconds(3) <= 8.0 for _ in range(50))


def test_conflict_with_a_foreign_trunk_fails_with_a_sentence_and_leaves_it(
    live_clinic, fake_gateway
):
    foreign = fake_gateway.create_inbound_trunk(
        TrunkSpec(name="theirs", metadata="{}", numbers=(A,))
    )
    fake_gateway.calls.clear()

    result = reconcile_clinic(live_clinic.pk)

    p = prov(live_clinic)
    assert result.outcome == "failed"
    assert p.state == "failed"
    assert A in p.last_error and "does not manage" in p.last_error
    assert foreign.trunk_id in fake_gateway.trunks
    assert "delete_trunk" not in fake_gateway.calls


def test_conflict_with_our_own_trunk_for_this_clinic_adopts(live_clinic, fake_gateway):
    # A create that succeeded but whose intent was never recorded (e.g. a restored DB).
    from telephony.provisioning.desired import load_desired

    spec = load_desired(live_clinic.pk).trunk()
    ours = fake_gateway.create_inbound_trunk(spec)

    reconcile_clinic(live_clinic.pk)

    assert prov(live_clinic).trunk_id == ours.trunk_id
    assert len(fake_gateway.trunks) == 1


def test_editing_numbers_updates_the_trunk(
    live_clinic, fake_gateway, django_capture_on_commit_callbacks
):
    reconcile_clinic(live_clinic.pk)
    services.phone_number_remove(clinic=live_clinic, e164=A)
    fake_gateway.calls.clear()

    reconcile_clinic(live_clinic.pk)

    (trunk,) = fake_gateway.trunks.values()
    assert trunk.numbers == (B,)
    assert fake_gateway.calls == ["replace_inbound_trunk"]


def test_agent_change_updates_only_the_rule(live_clinic, fake_gateway):
    reconcile_clinic(live_clinic.pk)
    services.agent_config_update(clinic=live_clinic, greeting="Hello from Bright Smile!")
    fake_gateway.calls.clear()

    reconcile_clinic(live_clinic.pk)

    assert fake_gateway.calls == ["replace_dispatch_rule"]
    (rule,) = fake_gateway.rules.values()
    assert json.loads(rule.agents[0].metadata)["config_version"] == 2


def test_offboarding_deletes_rule_then_trunk_and_frees_numbers(live_clinic, owner, fake_gateway):
    reconcile_clinic(live_clinic.pk)
    services.clinic_offboard(clinic=live_clinic, actor=owner)
    fake_gateway.calls.clear()

    reconcile_clinic(live_clinic.pk)

    assert fake_gateway.calls == ["delete_dispatch_rule", "delete_trunk"]
    assert fake_gateway.trunks == {} and fake_gateway.rules == {}
    assert prov(live_clinic).state == "deprovisioned"
    assert not PhoneNumber.objects.filter(clinic=live_clinic).exists()


def test_offboard_during_unconfirmed_create_leaves_no_orphan(live_clinic, owner, fake_gateway):
    fake_gateway.fail("create_inbound_trunk", LiveKitTransientError("reply lost"), commit=True)
    reconcile_clinic(live_clinic.pk)
    services.clinic_offboard(clinic=live_clinic, actor=owner)

    reconcile_clinic(live_clinic.pk)

    assert fake_gateway.trunks == {}
    assert prov(live_clinic).state == "deprovisioned"


def test_drift_is_repaired_when_verifying(live_clinic, fake_gateway):
    reconcile_clinic(live_clinic.pk)
    trunk_id = prov(live_clinic).trunk_id
    fake_gateway.tamper_trunk(trunk_id, numbers=(A,))
    services.provisioning_reprovision(clinic=live_clinic)

    reconcile_clinic(live_clinic.pk, verify=True)

    assert fake_gateway.trunks[trunk_id].numbers == (A, B)


def test_a_held_lease_means_no_work(live_clinic, fake_gateway):
    assert acquire_lease(live_clinic.pk, "someone-else")

    result = reconcile_clinic(live_clinic.pk)

    assert result.outcome == "busy" and result.retry_in and result.retry_in > 0
    assert fake_gateway.calls == []


def test_a_worker_whose_clock_runs_ahead_cannot_take_a_held_lease(
    live_clinic, fake_gateway, monkeypatch
):
    """The lease's expiry is compared with the database's clock, not the worker's."""
    assert acquire_lease(live_clinic.pk, "someone-else")
    ahead = timezone.now() + timedelta(hours=1)
    monkeypatch.setattr(timezone, "now", lambda: ahead)

    result = reconcile_clinic(live_clinic.pk)

    assert result.outcome == "busy" and 0 < result.retry_in <= 31
    assert prov(live_clinic).lease_owner == "someone-else"
    assert fake_gateway.calls == []


def test_a_run_that_lost_its_lease_writes_no_event(live_clinic, fake_gateway, monkeypatch):
    """Every event row is written under the same fence as the state it describes."""

    def taken_over_during_the_call(spec):
        Provisioning.objects.filter(clinic=live_clinic).update(lease_owner="another-run")
        raise LiveKitTransientError("LiveKit did not answer in time; retrying.")

    monkeypatch.setattr(fake_gateway, "create_inbound_trunk", taken_over_during_the_call)

    before = ProvisioningEvent.objects.filter(clinic=live_clinic).count()

    assert reconcile_clinic(live_clinic.pk).outcome == "busy"

    assert ProvisioningEvent.objects.filter(clinic=live_clinic).count() == before
    p = prov(live_clinic)
    assert (p.lease_owner, p.attempts, p.last_error) == ("another-run", 0, "")


def test_an_invalid_argument_without_a_holder_is_the_rejection_not_a_conflict(
    live_clinic, fake_gateway
):
    from telephony.livekit_gateway import LiveKitRejectedError

    fake_gateway.fail(
        "create_inbound_trunk",
        LiveKitRejectedError("LiveKit rejected the request (invalid_argument): bad address"),
    )

    assert reconcile_clinic(live_clinic.pk).outcome == "failed"

    p = prov(live_clinic)
    assert "bad address" in p.last_error and "does not manage" not in p.last_error
    assert p.trunk_intent is None


def test_permanent_conflict_is_not_retried_by_a_duplicate_message(live_clinic, fake_gateway):
    fake_gateway.fail("create_inbound_trunk", LiveKitConflictError("taken"))
    fake_gateway.fail("list_inbound_trunks", LiveKitConflictError("taken"))
    reconcile_clinic(live_clinic.pk)
    fake_gateway.calls.clear()

    assert reconcile_clinic(live_clinic.pk).outcome == "noop"
    assert fake_gateway.calls == []


def test_a_401_pauses_every_clinic_until_the_configuration_changes(
    live_clinic, owner, fake_gateway, settings
):
    from telephony.livekit_gateway import LiveKitAuthError
    from telephony.tasks import sweep_provisioning
    from tests.factories import make_clinic

    other = make_clinic(owner, "Second Clinic")
    services.phone_number_add(clinic=other, number="+14155550109")
    services.clinic_go_live(clinic=other, actor=owner)
    fake_gateway.fail("create_inbound_trunk", LiveKitAuthError("bad key", code="unauthenticated"))

    assert reconcile_clinic(live_clinic.pk).outcome == "failed"
    fake_gateway.calls.clear()
    assert reconcile_clinic(other.pk).outcome == "failed"
    assert fake_gateway.calls == []  # the second clinic never called LiveKit
    assert "paused for all clinics" in prov(other).last_error

    # Same configuration: the sweeper leaves them alone.
    sweep_provisioning.apply(kwargs={"limit": 0})
    assert prov(live_clinic).state == "failed"
    # The operator fixes the secret: the sweeper resumes both, and they converge.
    settings.LIVEKIT_API_SECRET = "a-new-secret-0123456789abcdef0123456789"
    sweep_provisioning.apply(kwargs={"limit": 0})
    assert {prov(live_clinic).state, prov(other).state} == {"pending"}
    assert reconcile_clinic(live_clinic.pk).outcome == "converged"
    assert reconcile_clinic(other.pk).outcome == "converged"


def test_the_drift_scan_repairs_changed_and_missing_objects_and_ignores_foreign(
    live_clinic, owner, fake_gateway, settings
):
    from telephony.provisioning.drift import scan
    from tests.factories import make_clinic

    settings.DRIFT_SCAN_PAGE_SIZE = 2
    second = make_clinic(owner, "Second Clinic")
    services.phone_number_add(clinic=second, number="+14155550109")
    services.clinic_go_live(clinic=second, actor=owner)
    for c in (live_clinic, second):
        reconcile_clinic(c.pk)
    foreign = fake_gateway.create_inbound_trunk(
        TrunkSpec(name="not ours", metadata="{}", numbers=("+14155550177",))
    )
    fake_gateway.tamper_trunk(prov(live_clinic).trunk_id, numbers=(A,))
    del fake_gateway.rules[prov(second).dispatch_rule_id]
    fake_gateway.calls.clear()

    report = scan(fake_gateway)

    assert report["drift_count"] == 2 and report["foreign_ignored"] == 1
    lists = [c for c in fake_gateway.calls if c.startswith("list")]
    assert fake_gateway.calls == lists  # the scan itself only reads
    assert len(lists) <= 5  # pages of 2, not one call per clinic
    for c in (live_clinic, second):
        reconcile_clinic(c.pk, verify=True)
    trunk = fake_gateway.trunks[prov(live_clinic).trunk_id]
    assert trunk.numbers == (A, B)
    assert prov(second).dispatch_rule_id in fake_gateway.rules
    assert foreign.trunk_id in fake_gateway.trunks
    assert scan(fake_gateway)["drift_count"] == 0


def test_orphans_are_reported_then_deleted_after_the_grace_period(
    live_clinic, fake_gateway, settings
):
    from telephony.models import OrphanObject
    from telephony.provisioning.desired import load_desired, marker
    from telephony.provisioning.drift import scan

    reconcile_clinic(live_clinic.pk)
    spec = load_desired(live_clinic.pk).trunk()
    stray = fake_gateway.create_inbound_trunk(
        TrunkSpec(name="stray", metadata=marker(live_clinic), numbers=("+14155550188",))
    )
    assert spec.metadata == stray.metadata

    settings.ORPHAN_GRACE_SECONDS = 3600
    assert scan(fake_gateway)["orphans"] == 1
    assert stray.trunk_id in fake_gateway.trunks  # within the grace period: kept
    settings.ORPHAN_GRACE_SECONDS = 0
    report = scan(fake_gateway)

    assert report["orphans_deleted"] == 1
    assert stray.trunk_id not in fake_gateway.trunks
    assert prov(live_clinic).trunk_id in fake_gateway.trunks
    assert OrphanObject.objects.get(object_id=stray.trunk_id).deleted_at is not None


def test_a_verifying_run_forgets_an_object_already_gone_instead_of_deleting_it(
    live_clinic, owner, fake_gateway
):
    assert reconcile_clinic(live_clinic.pk).outcome == "converged"
    p = prov(live_clinic)
    del fake_gateway.trunks[p.trunk_id]
    services.clinic_offboard(clinic=live_clinic, actor=owner)
    fake_gateway.calls.clear()

    assert reconcile_clinic(live_clinic.pk, verify=True).outcome == "converged"

    assert "delete_trunk" not in fake_gateway.calls
    assert fake_gateway.calls.count("delete_dispatch_rule") == 1
    assert ProvisioningEvent.objects.filter(
        clinic=live_clinic, action="drift_repaired", detail__contains="already gone"
    ).exists()
