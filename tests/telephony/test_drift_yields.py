"""The drift scan gives way to provisioning under one project's limit (decision 0161): over
real HTTP to the emulator, with the shared limiter in Redis."""

from __future__ import annotations

import pytest

from telephony.models import UpstreamStatus
from telephony.provisioning.drift import DEFERRED, scan_all
from telephony.ratelimit import get_limiter

pytestmark = pytest.mark.django_db


@pytest.fixture
def lk_settings():
    # A token every 10 s, four saved up, two of them kept for provisioning.
    return {
        "LIVEKIT_RATE_LIMIT_PER_MINUTE": 6,
        "LIVEKIT_RATE_LIMIT_BURST": 4,
        "LIVEKIT_RATE_LIMIT_MAX_WAIT_SECONDS": 1,
        "DRIFT_SCAN_LIMITER_RESERVE": 2,
    }


def test_a_scan_that_would_eat_the_reserve_is_deferred_not_failed(lk):
    first = scan_all()["default"]  # two list calls: four tokens down to the reserve
    assert first["upstream_calls"] == 2
    assert "error" not in first and "deferred" not in first

    second = scan_all()["default"]

    assert second["deferred"] == DEFERRED
    assert "error" not in second
    assert len(lk.requests()) == 2  # the deferred scan sent nothing
    stored = UpstreamStatus.objects.get(pk=1).last_drift_scan
    assert stored["upstream_calls"] == 2  # the last finished scan's findings stay
    assert stored["deferred"] == DEFERRED and stored["deferred_at"]
    # Provisioning still finds its two tokens at once.
    limiter = get_limiter()
    assert [limiter.acquire(), limiter.acquire()] == [0.0, 0.0]


def test_a_finished_scan_replaces_the_deferred_note(lk, settings):
    scan_all()
    scan_all()  # deferred
    settings.DRIFT_SCAN_LIMITER_RESERVE = 0  # the scan may now use the whole bucket

    third = scan_all()["default"]

    assert third["upstream_calls"] == 2
    assert "deferred" not in UpstreamStatus.objects.get(pk=1).last_drift_scan
