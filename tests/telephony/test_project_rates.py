"""Each LiveKit project paces its calls at its own request rate (decision 0162): the
limiter reads LiveKitProject.rate_limit_per_minute (empty: LIVEKIT_RATE_LIMIT_PER_MINUTE),
with the buckets in Redis as in production."""

from __future__ import annotations

import uuid

import pytest

from telephony import ratelimit
from telephony.console_projects import limiter_usage
from telephony.models import LiveKitProject
from telephony.ratelimit import RateLimited, get_limiter, project_rate, reset_limiter

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def own_buckets(settings):
    settings.SWITCHBOARD_DEPLOYMENT_ID = f"test-{uuid.uuid4().hex[:8]}"  # fresh Redis keys
    settings.LIVEKIT_RATE_LIMIT_PER_MINUTE = 60000
    settings.LIVEKIT_RATE_LIMIT_BURST = 2
    settings.LIVEKIT_RATE_LIMIT_MAX_WAIT_SECONDS = 1
    reset_limiter()
    yield
    reset_limiter()


def project(name, rate=None):
    return LiveKitProject.objects.create(
        name=name,
        url="https://lk.example",
        api_key="k",
        api_secret="s-0123456789",
        sip_uri=f"sip:{name}.example",
        rate_limit_per_minute=rate,
    )


def test_a_slow_project_is_paced_at_its_own_rate_and_the_others_at_the_setting():
    project("slow", rate=6)  # a token every 10 s
    project("plain")

    slow, plain = get_limiter("slow"), get_limiter("plain")

    assert [slow.acquire(), slow.acquire()] == [0.0, 0.0]  # its burst
    with pytest.raises(RateLimited) as err:
        slow.acquire()
    assert err.value.wait == pytest.approx(10, abs=0.5)
    # The project beside it, and the default one, go at LIVEKIT_RATE_LIMIT_PER_MINUTE.
    assert [plain.acquire() for _ in range(2)] == [0.0, 0.0]
    assert plain.acquire() == pytest.approx(0.001, abs=0.01)
    assert (project_rate("slow"), project_rate("plain"), project_rate()) == (6, 60000, 60000)
    assert limiter_usage("slow")["per_minute"] == 6


def test_a_changed_rate_is_read_again_after_the_refresh_interval(monkeypatch):
    slow = project("slow", rate=6)
    assert get_limiter("slow").config.per_minute == 6

    LiveKitProject.objects.filter(pk=slow.pk).update(rate_limit_per_minute=600)
    assert get_limiter("slow").config.per_minute == 6  # kept for RATE_REFRESH_SECONDS
    monkeypatch.setattr(ratelimit, "RATE_REFRESH_SECONDS", 0.0)

    assert get_limiter("slow").config.per_minute == 600
    LiveKitProject.objects.filter(pk=slow.pk).update(rate_limit_per_minute=None)
    assert get_limiter("slow").config.per_minute == 60000


def test_the_database_refuses_a_rate_below_one():
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        project("zero", rate=0)
