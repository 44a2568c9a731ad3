"""The batch path (telephony/provisioning/many.py) against the in-memory fake gateway.

What it must keep from reconcile_clinic: the same objects in LiveKit, one create per object,
fenced writes, recorded failures, and everything off its path handed to reconcile_clinic.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from telephony import services
from telephony.livekit_gateway import (
    LiveKitAuthError,
    LiveKitTransientError,
    RemoteTrunk,
    TrunkSpec,
)
from telephony.models import Provisioning, ProvisioningEvent, UpstreamStatus
from telephony.provisioning import fence, many
from telephony.provisioning.desired import load_desired
from telephony.provisioning.reconcile import acquire_lease, reconcile_batch, reconcile_clinic
from tests.factories import UserFactory, make_clinic

pytestmark = pytest.mark.django_db


def new_clinics(n: int, tag: str = "Batch", first_number: int = 0) -> list[str]:
    """Clinics gone live, each with one number: +1415557<first_number + i>."""
    owner = UserFactory()
    ids = []
    for i in range(n):
        clinic = make_clinic(owner, f"{tag} {i}")
        services.phone_number_add(clinic=clinic, number=f"+1415557{first_number + i:04d}")
        services.clinic_go_live(clinic=clinic, actor=owner)
        ids.append(str(clinic.pk))
    return ids


def prov(clinic_id: str) -> Provisioning:
    return Provisioning.objects.get(clinic_id=clinic_id)


def actions(clinic_id: str) -> list[tuple[str, str]]:
    events = ProvisioningEvent.objects.filter(clinic_id=clinic_id).order_by("at")
    return [(e.action, e.outcome) for e in events if e.action != "requested"]


def test_a_batch_creates_the_objects_reconcile_clinic_would_in_two_calls_each(fake_gateway):
    ids = new_clinics(5)

    result = reconcile_batch(ids)

    assert sorted(result.converged) == sorted(ids)
    assert fake_gateway.count("create_inbound_trunk") == 5
    assert fake_gateway.count("create_dispatch_rule") == 5
    assert len(fake_gateway.calls) == 10
    for clinic_id in ids:
        p = prov(clinic_id)
        desired = load_desired(clinic_id)
        trunk = fake_gateway.trunks[p.trunk_id]
        rule = fake_gateway.rules[p.dispatch_rule_id]
        assert trunk.as_spec() == desired.trunk()
        assert rule.as_spec() == desired.rule(p.trunk_id)
        assert (p.state, p.observed_generation, p.attempts) == ("active", p.generation, 0)
        assert (p.trunk_intent, p.rule_intent, p.lease_owner, p.lease_until) == (
            None,
            None,
            "",
            None,
        )
        assert p.trunk_applied_hash and p.rule_applied_hash and p.converged_at
        assert actions(clinic_id) == [
            ("create_trunk", "ok"),
            ("create_rule", "ok"),
            ("converged", "ok"),
        ]
    # Nothing left for reconcile_clinic: it finds every clinic converged.
    assert {reconcile_clinic(i).outcome for i in ids} == {"noop"}
    assert len(fake_gateway.calls) == 10


def test_the_queries_of_a_batch_do_not_grow_with_its_size(fake_gateway):
    small, large = new_clinics(3, "Small"), new_clinics(30, "Large", first_number=100)

    with CaptureQueriesContext(connection) as few:
        assert len(reconcile_batch(small).converged) == 3
    with CaptureQueriesContext(connection) as many:
        assert len(reconcile_batch(large).converged) == 30

    assert len(many.captured_queries) == len(few.captured_queries)


def test_clinics_off_the_common_path_are_left_or_handed_over(fake_gateway, owner):
    active, failed, half_done, suspended, fresh = new_clinics(5)
    reconcile_clinic(active)
    Provisioning.objects.filter(clinic_id=failed).update(state="failed")
    Provisioning.objects.filter(clinic_id=half_done).update(
        trunk_intent="0b6f1a52-8f0e-4c77-9a39-1d0a3f1bd1c2", trunk_intent_numbers=["+14155570002"]
    )
    reconcile_clinic(suspended)
    services.clinic_suspend(clinic=prov(suspended).clinic, actor=owner)
    fake_gateway.calls.clear()

    result = reconcile_batch([active, failed, half_done, suspended, fresh])

    assert sorted(result.noop) == sorted([active, failed])
    assert sorted(result.handed_over) == sorted([half_done, suspended])
    assert result.converged == [fresh]
    assert fake_gateway.calls == ["create_inbound_trunk", "create_dispatch_rule"]
    assert Provisioning.objects.filter(lease_owner="").count() == 5
    # reconcile_clinic finishes the two it was handed.
    assert reconcile_clinic(half_done).outcome == "converged"
    assert reconcile_clinic(suspended).outcome == "converged"
    assert prov(suspended).dispatch_rule_id == ""


def test_a_clinic_whose_next_action_is_a_create_is_the_batchs_even_half_done(fake_gateway):
    # The batch applies the planner's actions: a run that stopped after the trunk, before
    # the rule's intent, leaves one create, the rule's, and the batch makes it.
    half, fresh = new_clinics(2)
    fake_gateway.fail("create_dispatch_rule", LiveKitTransientError("LiveKit is down."))
    assert reconcile_clinic(half).outcome == "retry"
    Provisioning.objects.filter(clinic_id=half).update(
        state="pending", rule_intent=None, rule_intent_at=None
    )
    fake_gateway.calls.clear()

    result = reconcile_batch([half, fresh])

    assert sorted(result.converged) == sorted([half, fresh])
    assert fake_gateway.calls.count("create_inbound_trunk") == 1
    assert fake_gateway.calls.count("create_dispatch_rule") == 2
    p = prov(half)
    assert fake_gateway.rules[p.dispatch_rule_id].trunk_ids == (p.trunk_id,)
    assert (p.state, p.attempts, p.rule_intent) == ("active", 0, None)


def test_a_lease_held_by_another_run_is_left_to_it(fake_gateway):
    mine, theirs = new_clinics(2)
    assert acquire_lease(theirs, "another-run")

    result = reconcile_batch([mine, theirs])

    assert result.converged == [mine]
    assert 0 < result.busy[theirs] <= 31
    p = prov(theirs)
    assert (p.lease_owner, p.trunk_id, p.trunk_intent) == ("another-run", "", None)
    assert fake_gateway.count("create_inbound_trunk") == 1


def test_a_batch_on_a_worker_whose_clock_runs_ahead_leaves_a_held_lease(fake_gateway, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    mine, theirs = new_clinics(2)
    assert acquire_lease(theirs, "another-run")
    ahead = timezone.now() + timedelta(hours=1)
    monkeypatch.setattr(timezone, "now", lambda: ahead)

    result = reconcile_batch([mine, theirs])

    assert result.converged == [mine]
    assert 0 < result.busy[theirs] <= 31
    assert prov(theirs).lease_owner == "another-run"


def test_a_transient_failure_is_recorded_and_reconcile_clinic_finishes_the_clinic(fake_gateway):
    ids = new_clinics(4)
    fake_gateway.fail(
        "create_inbound_trunk", LiveKitTransientError("LiveKit is unavailable; retrying.")
    )

    result = reconcile_batch(ids)

    assert len(result.converged) == 3
    ((failed, delay),) = result.retry.items()
    p = prov(failed)
    assert (p.state, p.attempts, p.last_error) == (
        "retrying",
        1,
        "LiveKit is unavailable; retrying.",
    )
    assert p.next_attempt_at is not None and 0 <= delay <= 2
    assert p.trunk_intent is not None  # the create may have happened: observe before retrying
    assert ("create_trunk", "error") in actions(failed)
    assert reconcile_clinic(failed).outcome == "converged"
    assert len(fake_gateway.trunks) == len(fake_gateway.rules) == 4


def test_a_lost_rule_reply_is_adopted_afterwards_not_created_twice(fake_gateway):
    ids = new_clinics(3)
    fake_gateway.fail("create_dispatch_rule", LiveKitTransientError("reply lost"), commit=True)

    result = reconcile_batch(ids)
    ((clinic_id, _),) = result.retry.items()
    assert reconcile_clinic(clinic_id).outcome == "converged"

    assert fake_gateway.count("create_dispatch_rule") == 3
    assert len(fake_gateway.rules) == 3
    assert ProvisioningEvent.objects.filter(clinic_id=clinic_id, action="adopt_rule").count() == 1


def test_a_number_taken_in_livekit_goes_to_reconcile_clinic_which_names_it(fake_gateway):
    (clinic_id, other) = new_clinics(2)
    fake_gateway.trunks["ST_foreign"] = RemoteTrunk(
        **TrunkSpec(name="theirs", metadata="", numbers=("+14155570000",)).__dict__,
        trunk_id="ST_foreign",
    )

    result = reconcile_batch([clinic_id, other])

    assert result.handed_over == [clinic_id]
    assert result.converged == [other]
    assert prov(clinic_id).trunk_intent is not None
    assert reconcile_clinic(clinic_id).outcome == "failed"
    p = prov(clinic_id)
    assert p.state == "failed" and "+14155570000" in p.last_error
    assert "ST_foreign" in fake_gateway.trunks and len(fake_gateway.trunks) == 2


def test_refused_credentials_fail_the_clinics_and_open_the_circuit(fake_gateway):
    ids = new_clinics(2)
    fake_gateway.fail(
        "create_inbound_trunk",
        LiveKitAuthError("LiveKit refused the API key.", status=401),
        times=2,
    )

    result = reconcile_batch(ids)

    assert sorted(result.failed) == sorted(ids)
    assert {prov(i).state for i in ids} == {"failed"}
    assert UpstreamStatus.objects.get(pk=1).auth_failed_at is not None
    # While the circuit is open, a batch sends nothing and reconcile_clinic records why.
    more = new_clinics(1, "Later", first_number=100)
    fake_gateway.calls.clear()
    assert reconcile_batch(more).handed_over == more
    assert fake_gateway.calls == []


def test_a_long_local_rate_limit_wait_withdraws_the_intent(fake_gateway):
    (clinic_id,) = new_clinics(1)
    refusal = LiveKitTransientError(
        "Switchboard is pacing its calls to LiveKit (API rate limit); retrying.",
        code="local_rate_limit",
        retry_after=600,
    )
    fake_gateway.fail("create_inbound_trunk", refusal)

    result = reconcile_batch([clinic_id])

    assert result.retry[clinic_id] >= 600
    p = prov(clinic_id)
    assert (p.state, p.trunk_intent, p.trunk_intent_numbers) == ("retrying", None, [])
    # No intent: the retry creates at once instead of listing LiveKit first.
    fake_gateway.calls.clear()
    assert reconcile_clinic(clinic_id).outcome == "converged"
    assert fake_gateway.calls == ["create_inbound_trunk", "create_dispatch_rule"]


def test_a_short_local_rate_limit_wait_is_waited_out_within_the_batch(fake_gateway):
    ids = new_clinics(2)
    refusal = LiveKitTransientError("pacing", code="local_rate_limit", retry_after=0.05)
    fake_gateway.fail("create_inbound_trunk", refusal)

    result = reconcile_batch(ids)

    assert sorted(result.converged) == sorted(ids)
    assert fake_gateway.count("create_inbound_trunk") == 3  # one refused, never sent
    assert len(fake_gateway.trunks) == 2
    assert {prov(i).attempts for i in ids} == {0}


def test_a_429_in_a_batch_spends_no_attempt(fake_gateway, settings):
    settings.PROVISIONING_MAX_ATTEMPTS = 1  # were a 429 an attempt, the clinic would fail
    (clinic_id,) = new_clinics(1)
    throttled = LiveKitTransientError(
        "LiveKit is temporarily unavailable (429 resource_exhausted); retrying.",
        code="resource_exhausted",
        status=429,
        retry_after=7,
    )
    fake_gateway.fail("create_inbound_trunk", throttled)

    result = reconcile_batch([clinic_id])

    assert result.retry[clinic_id] >= 7  # never before Retry-After
    p = prov(clinic_id)
    assert (p.state, p.attempts, p.rate_limited_runs) == ("retrying", 0, 1)


def test_calls_that_cannot_start_within_the_lease_window_wait_for_a_renewal(
    fake_gateway, settings, monkeypatch
):
    # A window of 50 ms and calls of 80 ms one after the other: the second clinic's call
    # would start after its renewal went stale, so the batch renews the lease first.
    settings.PROVISIONING_BATCH_IN_FLIGHT = 1
    monkeypatch.setattr(fence, "renew_window_seconds", lambda: 0.05)
    renewals = []
    real_renew = fence.Leases.renew

    def renew(self, ids):
        renewals.append(len(ids))
        return real_renew(self, ids)

    monkeypatch.setattr(fence.Leases, "renew", renew)
    fake_gateway.before_call = lambda method: threading.Event().wait(0.08)  # a slow LiveKit
    ids = new_clinics(3)

    result = reconcile_batch(ids)

    assert sorted(result.converged) == sorted(ids)
    assert renewals  # the batch renewed instead of calling with a stale lease
    assert fake_gateway.count("create_inbound_trunk") == 3
    assert fake_gateway.count("create_dispatch_rule") == 3


def test_calls_not_started_before_the_budget_ends_are_withdrawn_and_handed_over(
    fake_gateway, monkeypatch
):
    monkeypatch.setattr(many, "budget_seconds", lambda: 0.0)
    ids = new_clinics(3)

    result = reconcile_batch(ids)

    assert sorted(result.handed_over) == sorted(ids)
    assert fake_gateway.calls == []
    assert {(prov(i).trunk_intent, prov(i).lease_owner) for i in ids} == {(None, "")}
    assert {reconcile_clinic(i).outcome for i in ids} == {"converged"}


def test_a_clinic_changed_during_the_batch_is_recorded_but_not_marked_converged(fake_gateway):
    changed, steady = new_clinics(2)

    def bump(method: str) -> None:
        if method == "create_dispatch_rule" and not bumped:
            bumped.append(True)
            Provisioning.objects.filter(clinic_id=changed).update(generation=99)

    bumped: list[bool] = []
    fake_gateway.before_call = bump
    result = reconcile_batch([changed, steady])

    assert sorted(result.converged + result.handed_over) == sorted([changed, steady])
    moved = result.handed_over[0]
    p = prov(moved)
    assert p.dispatch_rule_id and p.observed_generation == 0 and p.state == "provisioning"
    assert reconcile_clinic(moved).outcome == "converged"
    assert len(fake_gateway.rules) == 2


def test_a_lease_taken_over_during_the_batch_stops_every_write_for_that_clinic(fake_gateway):
    ids = new_clinics(2)

    def steal(method: str) -> None:
        if method == "create_dispatch_rule" and not stolen:
            victim = Provisioning.objects.filter(clinic_id__in=ids, rule_intent__isnull=False)[0]
            stolen.append(str(victim.clinic_id))
            Provisioning.objects.filter(pk=victim.pk).update(
                lease_owner="thief", lease_until=timezone.now() + timedelta(seconds=30)
            )

    stolen: list[str] = []
    fake_gateway.before_call = steal
    result = reconcile_batch(ids)

    (victim,) = stolen
    assert result.lost == [victim]
    p = prov(victim)
    assert (p.lease_owner, p.dispatch_rule_id, p.state) == ("thief", "", "provisioning")
    assert p.rule_intent is not None  # the thief's run observes and adopts the rule
    assert not ProvisioningEvent.objects.filter(clinic_id=victim, action="create_rule").exists()


def test_spec_hashes_are_the_ones_already_stored(fake_gateway, settings):
    # Hashes stored before spec_hash dropped dataclasses.asdict must still match, or every
    # clinic would be updated once after the upgrade.
    import hashlib
    import hmac
    import json
    from dataclasses import asdict

    from telephony.provisioning.desired import spec_hash

    (clinic_id,) = new_clinics(1)
    desired = load_desired(clinic_id)
    for spec in (desired.trunk(), desired.rule("ST_abc")):
        payload = json.dumps(asdict(spec), sort_keys=True, default=str).encode()
        before = hmac.new(settings.SECRET_KEY.encode(), payload, hashlib.sha256).hexdigest()
        assert spec_hash(spec) == before
