"""Sending: Standard Webhooks signatures (verified with the `standardwebhooks` package),
2xx / 410 / other answers, the retry schedule with jitter, the concurrency cap, endpoints
disabled after failing for days, timeouts, no redirects, the response cap, leases."""

from __future__ import annotations

import json
import random
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.db import connection
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.webhooks.conftest import Reply, make_endpoint
from webhooks import delivery, services
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent

pytestmark = pytest.mark.django_db


def queued(clinic, endpoint, payload=None):
    event = WebhookEvent.objects.create(
        clinic=clinic,
        type="call.ended",
        payload=payload or {"type": "call.ended", "timestamp": "t", "data": {"n": 1}},
    )
    return WebhookDelivery.objects.create(
        endpoint=endpoint, event=event, next_attempt_at=timezone.now()
    )


@pytest.fixture
def endpoint(clinic, receiver):
    ep, secret = make_endpoint(clinic, url=receiver.url)
    ep.plain_secret = secret
    return ep


def test_a_delivery_is_signed_per_standard_webhooks_and_succeeds(
    clinic, endpoint, receiver, published
):
    d = queued(clinic, endpoint)
    assert delivery.deliver(d.pk) == "succeeded"
    (seen,) = receiver.seen
    payload = Webhook(endpoint.plain_secret).verify(seen.body, seen.headers)
    assert payload == d.event.payload
    assert seen.headers["webhook-id"] == f"msg_{d.event.id.hex}"
    assert seen.headers["content-type"] == "application/json"
    assert seen.path == "/hooks"
    d.refresh_from_db()
    assert (d.status, d.attempts, d.last_status_code, d.lease_until) == ("succeeded", 1, 200, None)
    attempt = WebhookAttempt.objects.get(delivery=d)
    assert attempt.status_code == 200 and attempt.response_excerpt == "ok"
    assert attempt.latency_ms is not None


def test_a_wrong_secret_does_not_verify(clinic, endpoint, receiver, published):
    delivery.deliver(queued(clinic, endpoint).pk)
    (seen,) = receiver.seen
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "QUJD" * 8).verify(seen.body, seen.headers)


def test_rotation_signs_with_both_secrets_during_the_grace_period(
    clinic, endpoint, receiver, published, settings
):
    new = services.endpoint_rotate_secret(endpoint=endpoint)
    delivery.deliver(queued(clinic, endpoint).pk)
    seen = receiver.seen[-1]
    assert len(seen.headers["webhook-signature"].split(" ")) == 2
    Webhook(new).verify(seen.body, seen.headers)
    Webhook(endpoint.plain_secret).verify(seen.body, seen.headers)
    # After the grace period only the new secret signs.
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        previous_secret_until=timezone.now() - timedelta(seconds=1)
    )
    delivery.deliver(queued(clinic, endpoint).pk)
    seen = receiver.seen[-1]
    Webhook(new).verify(seen.body, seen.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint.plain_secret).verify(seen.body, seen.headers)


def test_secrets_are_encrypted_at_rest(clinic, endpoint):
    services.endpoint_rotate_secret(endpoint=endpoint)
    with connection.cursor() as cur:
        cur.execute(
            "SELECT secret, previous_secret FROM webhooks_webhookendpoint WHERE id = %s",
            [endpoint.pk],
        )
        stored = cur.fetchone()
    assert endpoint.plain_secret not in "".join(stored)
    assert not any(s.startswith("whsec_") for s in stored)


def test_500_is_retried_on_the_schedule_with_jitter(clinic, endpoint, receiver, published):
    receiver.script(Reply(500, b"boom"))
    d = queued(clinic, endpoint)
    before = timezone.now()
    assert delivery.deliver(d.pk) == "pending"
    d.refresh_from_db()
    wait = (d.next_attempt_at - before).total_seconds()
    assert 5 * 0.8 - 0.5 <= wait <= 5 * 1.2 + 0.5  # the second attempt: 5 s, +-20 %
    assert published == [([d.pk], pytest.approx(wait, abs=0.5))]
    WebhookDelivery.objects.filter(pk=d.pk).update(next_attempt_at=timezone.now())
    assert delivery.deliver(d.pk) == "succeeded"
    assert [s.headers["webhook-id"] for s in receiver.seen] == [d.event.webhook_id] * 2
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None  # a success clears it


SPEC_SCHEDULE = [0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400]


def test_the_schedule_is_the_specifications():
    rng = random.Random(7)
    waits = [delivery.retry_delay(n, rng) for n in range(10)]
    # Never earlier than the schedule (immediately, then minutes, then hours), up to 20 % later.
    for wait, base in zip(waits, SPEC_SCHEDULE, strict=True):
        assert base <= wait <= base * 1.2
    assert delivery.retry_delay(10) is None


def test_the_schedule_spans_three_days_and_disabling_comes_within_it():
    """The spec's 75 h 35 min; an endpoint failing throughout one event's schedule is disabled
    by its last attempt, whatever the jitter (which only ever delays)."""
    total = sum(django_settings.WEBHOOKS_RETRY_SCHEDULE)
    assert django_settings.WEBHOOKS_RETRY_SCHEDULE == SPEC_SCHEDULE
    assert total == 75 * 3600 + 35 * 60 + 5
    assert 3 * 86400 <= total < 4 * 86400
    assert django_settings.WEBHOOKS_DISABLE_AFTER_SECONDS == 3 * 86400
    assert total >= django_settings.WEBHOOKS_DISABLE_AFTER_SECONDS


def test_after_the_last_attempt_the_delivery_fails(clinic, endpoint, receiver, published, settings):
    settings.WEBHOOKS_RETRY_SCHEDULE = [0, 0.01]
    receiver.script(Reply(503), Reply(503))
    d = queued(clinic, endpoint)
    assert delivery.deliver(d.pk) == "pending"
    WebhookDelivery.objects.filter(pk=d.pk).update(next_attempt_at=timezone.now())
    assert delivery.deliver(d.pk) == "failed"
    d.refresh_from_db()
    assert d.finished_at and d.attempts == 2 and d.last_status_code == 503


def test_410_disables_the_endpoint_and_emails_the_owners(
    clinic, owner, endpoint, receiver, published, django_capture_on_commit_callbacks
):
    receiver.script(Reply(410, b"gone"))
    with django_capture_on_commit_callbacks(execute=True):
        assert delivery.deliver(queued(clinic, endpoint).pk) == "failed"
    endpoint.refresh_from_db()
    assert not endpoint.enabled and "410" in endpoint.disabled_reason
    (message,) = mail.outbox
    assert message.to == [owner.email] and endpoint.url in message.subject
    # A disabled endpoint gets nothing: its pending deliveries wait for it to be enabled.
    waiting = queued(clinic, endpoint)
    assert delivery.deliver(waiting.pk) == "nothing to do"
    assert len(receiver.seen) == 1


def test_an_endpoint_failing_for_days_is_disabled(
    clinic, owner, endpoint, receiver, published, settings, django_capture_on_commit_callbacks
):
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=timezone.now() - timedelta(seconds=settings.WEBHOOKS_DISABLE_AFTER_SECONDS)
    )
    receiver.script(Reply(500))
    with django_capture_on_commit_callbacks(execute=True):
        delivery.deliver(queued(clinic, endpoint).pk)
    endpoint.refresh_from_db()
    assert not endpoint.enabled and "3.0 days" in endpoint.disabled_reason
    assert mail.outbox[0].to == [owner.email]
    # Enabled again: the failure clock starts over and what waited is sent.
    services.endpoint_update(endpoint=endpoint, enabled=True)
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.failing_since is None and endpoint.disabled_reason == ""


def test_redirects_are_not_followed(clinic, endpoint, receiver, published):
    receiver.script(Reply(302, b"", headers={"Location": "http://169.254.169.254/"}))
    assert delivery.deliver(queued(clinic, endpoint).pk) == "pending"
    assert len(receiver.seen) == 1
    attempt = WebhookAttempt.objects.get()
    assert attempt.status_code == 302 and "Redirects are not followed" in attempt.error


def test_a_hanging_receiver_times_out(clinic, endpoint, receiver, published, settings):
    settings.WEBHOOKS_TIMEOUT_SECONDS = 0.3
    receiver.script(Reply(200, delay=1.5))
    assert delivery.deliver(queued(clinic, endpoint).pk) == "pending"
    attempt = WebhookAttempt.objects.get()
    assert attempt.status_code is None and "No answer within 0.3 s" in attempt.error


def test_a_refused_connection_is_a_failed_attempt(clinic, receiver, published):
    ep, _ = make_endpoint(clinic, url="http://127.0.0.1:9/hooks")
    assert delivery.deliver(queued(clinic, ep).pk) == "pending"
    assert "refused" in WebhookAttempt.objects.get().error


def test_the_response_body_is_read_up_to_a_cap(clinic, endpoint, receiver, published):
    receiver.script(Reply(200, b"x" * (delivery.RESPONSE_MAX_BYTES * 4)))
    assert delivery.deliver(queued(clinic, endpoint).pk) == "succeeded"
    assert len(WebhookAttempt.objects.get().response_excerpt) == delivery.EXCERPT_CHARS


def test_the_concurrency_cap_holds_back_and_the_finisher_starts_the_next(
    clinic, endpoint, receiver, published, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOKS_ENDPOINT_CONCURRENCY = 1
    first, second = queued(clinic, endpoint), queued(clinic, endpoint)
    c = delivery.claim(first.pk)
    assert isinstance(c, delivery.Claim)
    assert delivery.claim(second.pk) == delivery.BUSY
    endpoint.refresh_from_db()
    assert endpoint.has_waiting
    with django_capture_on_commit_callbacks(execute=True):
        delivery.record(c, delivery.send(c.endpoint, c.event))
    assert published == [([second.pk], 0)]
    assert delivery.deliver(second.pk) == "succeeded"


def test_a_leased_delivery_is_not_sent_twice_and_an_expired_lease_is_taken_over(
    clinic, endpoint, receiver, published
):
    d = queued(clinic, endpoint)
    c = delivery.claim(d.pk)
    assert delivery.claim(d.pk) is None  # in flight elsewhere
    WebhookDelivery.objects.filter(pk=d.pk).update(
        lease_until=timezone.now() - timedelta(seconds=1)
    )
    assert delivery.deliver(d.pk) == "succeeded"  # the killed worker's lease expired
    # The first worker comes back late: its result is logged, the delivery is not changed.
    assert delivery.record(c, delivery.Result(500, 5, "", "")) is None
    d.refresh_from_db()
    assert d.status == "succeeded" and d.attempts == 2


def test_a_delivery_not_yet_due_is_left_alone(clinic, endpoint, receiver, published):
    d = queued(clinic, endpoint)
    WebhookDelivery.objects.filter(pk=d.pk).update(
        next_attempt_at=timezone.now() + timedelta(minutes=5)
    )
    assert delivery.deliver(d.pk) == "nothing to do"
    assert receiver.seen == []


def test_the_body_is_the_stored_payload(clinic, endpoint, receiver, published):
    d = queued(clinic, endpoint, {"type": "call.ended", "timestamp": "x", "data": {"é": "ü"}})
    delivery.deliver(d.pk)
    assert json.loads(receiver.seen[0].body) == d.event.payload
