"""Writes to a clinic's webhook endpoints: create (secret shown once), change, rotate the
secret, delete, send a test event, resend a delivery."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from tenants.models import Clinic
from webhooks import destinations, events, signing
from webhooks.models import EventType, WebhookDelivery, WebhookEndpoint

MAX_ENDPOINTS_PER_CLINIC = 10
MAX_URL_LENGTH = 2000


def clean_url(url: object) -> str:
    if not isinstance(url, str) or not url.strip():
        raise ValidationError({"url": "Give the https:// URL that should receive the events."})
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise ValidationError({"url": f"Use a URL of at most {MAX_URL_LENGTH} characters."})
    try:
        destinations.check(url)
    except destinations.DestinationRefused as exc:
        raise ValidationError({"url": str(exc)}) from None
    return url


def clean_events(chosen: object) -> list[str]:
    valid = list(EventType.values)
    if not isinstance(chosen, list | tuple) or not chosen:
        raise ValidationError({"events": f"Choose at least one event from: {', '.join(valid)}."})
    unknown = [str(e) for e in chosen if e not in valid]
    if unknown:
        raise ValidationError(
            {
                "events": f"Unknown event {', '.join(map(repr, unknown))}; choose from: "
                f"{', '.join(valid)}."
            }
        )
    return [e for e in valid if e in chosen]  # catalogue order, no repeats


def endpoint_create(
    *, clinic: Clinic, url: object, chosen: Iterable[str] | object, enabled: bool = True
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its secret: the only time the secret is given out."""
    if clinic.is_offboarded:
        raise ValidationError({"url": "This clinic has been offboarded."})
    if WebhookEndpoint.objects.filter(clinic=clinic).count() >= MAX_ENDPOINTS_PER_CLINIC:
        raise ValidationError(
            {"url": f"A clinic can have at most {MAX_ENDPOINTS_PER_CLINIC} webhook endpoints."}
        )
    secret = signing.new_secret()
    endpoint = WebhookEndpoint.objects.create(
        clinic=clinic,
        url=clean_url(url),
        events=clean_events(chosen),
        enabled=bool(enabled),
        secret=secret,
    )
    return endpoint, secret


def endpoint_update(*, endpoint: WebhookEndpoint, **changes: Any) -> WebhookEndpoint:
    fields = ["updated_at"]
    if "url" in changes:
        endpoint.url = clean_url(changes["url"])
        fields.append("url")
    if "events" in changes:
        endpoint.events = clean_events(changes["events"])
        fields.append("events")
    if "enabled" in changes:
        enabled = bool(changes["enabled"])
        if enabled and not endpoint.enabled:
            # Enabled again (after a fix): pending deliveries go out now, and the failure
            # clock starts over.
            endpoint.disabled_reason = ""
            endpoint.failing_since = None
            endpoint.has_waiting = True  # finished deliveries start the rest
            fields += ["disabled_reason", "failing_since", "has_waiting"]
            pending = list(
                WebhookDelivery.objects.filter(
                    endpoint=endpoint, status=WebhookDelivery.Status.PENDING
                ).values_list("id", flat=True)[: settings.WEBHOOKS_ENDPOINT_CONCURRENCY]
            )
            WebhookDelivery.objects.filter(
                endpoint=endpoint, status=WebhookDelivery.Status.PENDING
            ).update(next_attempt_at=timezone.now())
            events.publish_on_commit(pending)
        endpoint.enabled = enabled
        fields.append("enabled")
    if len(fields) > 1:
        endpoint.save(update_fields=fields)
    return endpoint


def endpoint_rotate_secret(*, endpoint: WebhookEndpoint) -> str:
    """A new secret; the old one keeps signing too for WEBHOOKS_SECRET_GRACE_SECONDS."""
    with transaction.atomic():
        row = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        secret = signing.new_secret()
        row.previous_secret = row.secret
        row.previous_secret_until = timezone.now() + timedelta(
            seconds=settings.WEBHOOKS_SECRET_GRACE_SECONDS
        )
        row.secret = secret
        row.save(update_fields=["secret", "previous_secret", "previous_secret_until", "updated_at"])
    endpoint.refresh_from_db()
    return secret


def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    endpoint.delete()


def endpoint_send_test(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    if not endpoint.enabled:
        raise ValidationError(
            {"enabled": "This address is turned off; turn it on before sending a test."}
        )
    event = events.test_event(endpoint)
    assert event is not None
    return WebhookDelivery.objects.get(event=event, endpoint=endpoint)


def delivery_resend(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send the same event again (same webhook-id), with a fresh retry schedule."""
    with transaction.atomic():
        row = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
        if row.status == WebhookDelivery.Status.PENDING:
            raise ValidationError(
                {"non_field_errors": "This delivery is still being tried; wait for it to end."}
            )
        row.status = WebhookDelivery.Status.PENDING
        row.attempts = 0
        row.next_attempt_at = timezone.now()
        row.finished_at = None
        row.save(update_fields=["status", "attempts", "next_attempt_at", "finished_at"])
        events.publish_on_commit([row.pk])
    return row
