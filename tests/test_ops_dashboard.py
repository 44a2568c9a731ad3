"""The operations dashboard (/admin/ops/)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from telephony.models import Provisioning, ProvisioningEvent, UpstreamStatus
from tests.console import bulk_clinics, staff_in

pytestmark = pytest.mark.django_db
URL = "/admin/ops/"


@pytest.fixture
def support(client):
    user = staff_in("support")
    client.force_login(user)
    return user


def test_it_answers_with_livekit_down_and_says_so(client, support, settings):
    settings.LIVEKIT_URL = "http://127.0.0.1:1"
    settings.LIVEKIT_GATEWAY = "telephony.livekit_gateway.LiveKitGateway"
    r = client.get(URL)
    assert r.status_code == 200
    checks = r.context["ops"]["readiness"]
    assert checks["livekit"]["ok"] is False
    assert checks["database"]["ok"] is True and checks["redis"]["ok"] is True
    assert "DOWN" in r.content.decode()
    assert settings.LIVEKIT_API_SECRET not in r.content.decode()


def test_it_answers_with_redis_down(client, support, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    from telephony.ratelimit import reset_limiter

    reset_limiter()
    try:
        r = client.get(URL)
    finally:
        reset_limiter()
    assert r.status_code == 200
    ops = r.context["ops"]
    assert ops["queue_depth"] is None and "unavailable" in ops["queue_depth_why"]
    assert ops["readiness"]["redis"]["ok"] is False


def test_it_shows_states_failures_oldest_queue_limiter_drift_and_circuit(client, support):
    a, b, c, d = bulk_clinics(4)
    now = timezone.now()
    Provisioning.objects.filter(clinic=a).update(
        state="failed", last_error="LiveKit rejected the request (x)."
    )
    Provisioning.objects.filter(clinic=b).update(
        state="failed", last_error="LiveKit rejected the request (x)."
    )
    Provisioning.objects.filter(clinic=c).update(
        state="retrying",
        generation=3,
        observed_generation=1,
        requested_at=now - timedelta(minutes=42),
    )
    Provisioning.objects.filter(clinic=d).update(
        state="pending",
        generation=2,
        observed_generation=1,
        requested_at=now - timedelta(minutes=1),
    )
    for clinic in (a, b, c):
        ProvisioningEvent.objects.create(
            clinic=clinic,
            action="create_trunk",
            outcome="error",
            detail="LiveKit is temporarily unavailable (503 unavailable); retrying.",
        )
    old = ProvisioningEvent.objects.create(
        clinic=d, action="create_trunk", outcome="error", detail="an old one"
    )
    ProvisioningEvent.objects.filter(pk=old.pk).update(at=now - timedelta(hours=2))
    UpstreamStatus.objects.update_or_create(
        pk=1,
        defaults={
            "last_drift_scan_at": now,
            "last_drift_scan": {
                "trunks_seen": 40,
                "rules_seen": 39,
                "drift_count": 1,
                "drifted": [f"{a.slug}: trunk x is missing"],
                "orphans": 2,
            },
            "auth_failed_at": now,
            "auth_failed_detail": "LiveKit rejected Switchboard's API credentials.",
        },
    )
    from telephony.provisioning.circuit import open_circuit

    open_circuit("LiveKit rejected Switchboard's API credentials.")

    r = client.get(URL)
    assert r.status_code == 200
    ops = r.context["ops"]
    counts = {value: n for value, _, n in ops["by_state"]}
    assert (
        counts["failed"] == 2
        and counts["retrying"] == 1
        and counts["pending"] == 1
        and counts["active"] == 0
    )
    assert ops["failures"] == [
        {
            "detail": "LiveKit is temporarily unavailable (503 unavailable); retrying.",
            "n": 3,
            "clinics": 3,
            "last": ops["failures"][0]["last"],
        }
    ]
    assert ops["failed_now"] == [{"last_error": "LiveKit rejected the request (x).", "n": 2}]
    assert ops["oldest"].clinic_id == c.pk
    assert isinstance(ops["queue_depth"], int)  # the test broker is Redis
    assert ops["limiter"]["available"] is True and ops["limiter"]["burst"] > 0
    assert ops["circuit_blocked"]
    page = r.content.decode()
    assert "OPEN since" in page and "trunk x is missing" in page and c.name in page
    assert "?drift=last_scan" in page and "?failed_since=hour" in page


def test_queue_depth_is_na_without_a_redis_broker(client, support, settings):
    settings.CELERY_BROKER_URL = "sqla+sqlite:///tmp/x.sqlite3"
    from telephony.console import queue_depth

    assert queue_depth() == (None, "n/a (the broker is not Redis)")


def test_the_admin_links_to_it(client, support):
    assert 'href="/admin/ops/"' in client.get("/admin/").content.decode()
