"""Webhook endpoints, the outbox of events, and each endpoint's deliveries and attempts.

An event is written in the same transaction as the change it reports, with one delivery row
per endpoint that chose its type: that pair is the outbox (decision 0032). Deliveries are
sent by Celery and found again by the sweeper, so nothing depends on a broker message.
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.db import models

from telephony.crypto import EncryptedTextField
from tenants.models import Clinic


class EventType(models.TextChoices):
    CALL_STARTED = "call.started", "A call started"
    CALL_ENDED = "call.ended", "A call ended, with what came of it"
    MESSAGE_TAKEN = "message.taken", "The receptionist took a message"
    PROVISIONING_STATE_CHANGED = (
        "provisioning.state_changed",
        "The phone line's status changed (being set up, working, a problem)",
    )
    NUMBER_ADDED = "number.added", "A phone number was added"
    NUMBER_REMOVED = "number.removed", "A phone number was removed"


# Sent by "send a test" only; no endpoint subscribes to it.
TEST_EVENT = "webhook.test"


def event_label(event_type: str) -> str:
    """What a person reads for an event type."""
    if event_type == TEST_EVENT:
        return "Test"
    return dict(EventType.choices).get(event_type, event_type)


class WebhookEndpoint(models.Model):
    """A URL of the clinic's that receives the events it chose, signed with its secret."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField("URL", max_length=2000)
    events = models.JSONField(default=list)
    enabled = models.BooleanField(default=True)
    # Standard Webhooks secret ("whsec_" + base64), encrypted at rest, shown once.
    secret = EncryptedTextField(editable=False)
    # After a rotation the old secret signs too, until previous_secret_until.
    previous_secret = EncryptedTextField(blank=True, editable=False)
    previous_secret_until = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_reason = models.CharField(max_length=200, blank=True)
    # Set by the first failed attempt after a success; cleared by the next success.
    failing_since = models.DateTimeField(null=True, blank=True)
    # Set when a delivery found the endpoint at its concurrency cap: the next delivery to
    # finish starts the waiting ones.
    has_waiting = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar = ["created_at"]
        indexes: ClassVar = [models.Index(fields=["clinic", "enabled"])]

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        return self.enabled and event_type in self.events


class WebhookEvent(models.Model):
    """One event as sent: its payload is signed as stored (one webhook-id for every retry)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="webhook_events")
    type = models.CharField(max_length=40)
    # "call.ended:<room sid>": what makes an event happen once; blank for test events.
    key = models.CharField(max_length=200, blank=True)
    # The call's (redacted) room name, so erasing a caller erases the events about them.
    room_name = models.CharField(max_length=256, blank=True, db_index=True)
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering: ClassVar = ["-created_at"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["clinic", "key"],
                condition=~models.Q(key=""),
                name="webhook_event_once_per_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.webhook_id}"

    @property
    def webhook_id(self) -> str:
        return f"msg_{self.id.hex}"


class WebhookDelivery(models.Model):
    """One event to one endpoint: pending until a 2xx, or failed after the last attempt."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Delivered"
        FAILED = "failed", "Failed"

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # A worker sending it holds it until then; a worker killed mid-send lets it expire.
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(max_length=32, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_latency_ms = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-created_at", "-id"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["endpoint", "event"], name="one_delivery_per_event")
        ]
        indexes: ClassVar = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["endpoint", "-created_at"]),
        ]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event} to {self.endpoint_id}: {self.status}"


class WebhookAttempt(models.Model):
    """One HTTP request of a delivery, for the delivery log."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    at = models.DateTimeField(auto_now_add=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    response_excerpt = models.TextField(blank=True)

    class Meta:
        ordering: ClassVar = ["-at", "-id"]

    def __str__(self) -> str:
        return f"attempt at {self.at}: {self.status_code or self.error}"


class ProvisioningStateChange(models.Model):
    """A change of a clinic's phone-line state, not yet turned into an event (decision 0051).

    Written only by a database trigger on `telephony_provisioning.state` (migration 0002),
    in the transaction that changes the state, for clinics with an enabled endpoint that
    chose provisioning.state_changed; the sweeper writes the event and deletes the row in
    one transaction.
    """

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="+")
    previous = models.CharField(max_length=16)
    state = models.CharField(max_length=16)
    changed_at = models.DateTimeField()

    class Meta:
        ordering: ClassVar = ["id"]

    def __str__(self) -> str:
        return f"{self.clinic_id}: {self.previous} -> {self.state}"
