"""A number bought in a clinic's carrier account through Switchboard: the purchase intent,
written before the carrier is asked, so that a lost reply never leads to a second purchase
(docs/decisions/0110)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from telephony.models.setup import ClinicScopedManager
from tenants.models import Clinic


class NumberPurchase(models.Model):
    """One purchase of one number. ``sent_at`` is set (and committed) before each purchase
    request: while it is set and the outcome is unknown, the next attempt first asks the
    carrier whether the number was bought (reconciliation) and only buys again when the
    carrier proves it was not."""

    class State(models.TextChoices):
        PENDING = "pending", "Buying"
        BOUGHT = "bought", "Bought"
        FAILED = "failed", "Not bought"
        RELEASED = "released", "Released"  # given back to the carrier (NumberRelease)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="number_purchases")
    provider = models.CharField(max_length=10)
    e164 = models.CharField(max_length=16)
    idempotency_key = models.CharField(max_length=100)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    monthly_cost = models.CharField(max_length=20, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    # At the carrier: the number's ID (Twilio PN…, Telnyx number ID) and Telnyx's order.
    carrier_id = models.CharField(max_length=64, blank=True)
    order_id = models.CharField(max_length=64, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    creates_sent = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    status_message = models.CharField(max_length=300, blank=True)
    added = models.BooleanField(
        default=False, help_text="The bought number was added to the clinic's numbers."
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ClinicScopedManager()

    class Meta:
        ordering = ("-created_at",)
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "idempotency_key"], name="number_purchase_key_once"
            ),
            # One purchase of a number underway or done, whatever the key.
            models.UniqueConstraint(
                fields=["e164"],
                condition=Q(state__in=["pending", "bought"]),
                name="number_purchase_once",
            ),
        ]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="purchase_due")]

    def __str__(self) -> str:
        return f"{self.e164} for {self.clinic} ({self.get_state_display()})"
