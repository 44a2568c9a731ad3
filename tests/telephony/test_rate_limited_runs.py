"""A LiveKit 429 spends no provisioning attempt (decision 0160): against the emulator's own
rate limit (--rate-limit-per-minute) over real HTTP, with a budget of one attempt, so a 429
counted as an attempt would fail the clinic at once."""

from __future__ import annotations

import pytest
from django.utils import timezone

from telephony import services
from telephony.livekit_gateway import LiveKitGateway
from telephony.models import Provisioning
from telephony.provisioning.reconcile import reconcile_clinic
from tests.telephony.emulator_helpers import KEY, SECRET

pytestmark = pytest.mark.django_db

A = "+14155550131"


@pytest.fixture(scope="module")
def emulator_args():
    # LiveKit's limit: one request a second, two saved up at most.
    return ["--rate-limit-per-minute", "60", "--rate-limit-burst", "2"]


@pytest.fixture
def lk_settings():
    # The platform's limiter at the same rate (burst 1, below LiveKit's: decision 0137).
    return {
        "LIVEKIT_RATE_LIMIT_PER_MINUTE": 60,
        "LIVEKIT_RATE_LIMIT_BURST": 1,
        "PROVISIONING_MAX_ATTEMPTS": 1,
    }


@pytest.fixture
def live(clinic, owner, lk):
    services.phone_number_add(clinic=clinic, number=A)
    services.clinic_go_live(clinic=clinic, actor=owner)
    return clinic


def prov(clinic):
    return Provisioning.objects.get(clinic=clinic)


def drain(lk):
    """Someone else (another deployment, a script) took LiveKit's saved-up requests."""
    other = LiveKitGateway(LiveKitGateway.from_settings().url, KEY, SECRET, limiter=None)
    other.list_inbound_trunks()
    other.list_dispatch_rules()


def statuses(lk, prefix="Create"):
    """The statuses of the platform's calls (after the two that drained the bucket)."""
    return [r["status"] for r in lk.requests()[2:] if r["method"].startswith(prefix)]


def test_a_429_waits_for_retry_after_and_spends_no_attempt(live, lk, settings):
    settings.LIVEKIT_RATE_LIMIT_MAX_WAIT_SECONDS = 3  # the next run may wait out Retry-After
    drain(lk)

    first = reconcile_clinic(live.pk)

    assert first.outcome == "retry"
    assert first.retry_in is not None and first.retry_in >= 1  # Retry-After: 1
    row = prov(live)
    assert (row.state, row.attempts, row.rate_limited_runs) == ("retrying", 0, 1)
    assert row.last_error_code == "resource_exhausted"
    assert row.next_attempt_at >= timezone.now()
    assert statuses(lk) == [429]

    # The next run's calls wait in the limiter until Retry-After has passed, then go.
    assert reconcile_clinic(live.pk).outcome == "converged"
    row = prov(live)
    assert (row.state, row.attempts, row.rate_limited_runs) == ("active", 0, 0)
    assert statuses(lk) == [429, 200, 200]
    assert statuses(lk, "") == [429] + [200] * (len(lk.requests()) - 3)


def test_a_project_that_keeps_refusing_ends_failed_and_retryable(live, lk, settings):
    settings.LIVEKIT_RATE_LIMIT_MAX_WAIT_SECONDS = 0  # a blocked limiter refuses at once
    settings.PROVISIONING_MAX_RATE_LIMITED_RUNS = 2
    drain(lk)

    assert reconcile_clinic(live.pk).outcome == "retry"  # LiveKit's 429
    second = reconcile_clinic(live.pk)  # Retry-After still running: our limiter refuses

    assert second.outcome == "failed"
    row = prov(live)
    assert (row.state, row.attempts, row.rate_limited_runs) == ("failed", 0, 2)
    assert row.last_error_code == "local_rate_limit"
    assert "rate limit in 2 runs" in row.last_error
    assert "Press Retry" in row.last_error
    assert row.next_attempt_at is None
    assert statuses(lk, "") == [429]  # the refused call was never sent

    services.provisioning_retry(clinic=live)
    row = prov(live)
    assert (row.state, row.attempts, row.rate_limited_runs) == ("pending", 0, 0)


def test_other_transient_failures_still_spend_attempts(live, lk):
    lk.add_faults([{"method": "CreateSIPInboundTrunk", "action": "status", "status": 503}])

    assert reconcile_clinic(live.pk).outcome == "failed"  # the budget is one attempt

    row = prov(live)
    assert (row.state, row.attempts, row.rate_limited_runs) == ("failed", 1, 0)
