"""A number Switchboard bought, released back to the carrier at the clinic admin's explicit
request (docs/decisions/0165): it leaves the clinic's carrier account, stops costing money
and cannot be recovered. Numbers the clinic brought itself are never released."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from telephony.models.purchases import NumberPurchase
from telephony.models.setup import ClinicScopedManager
from tenants.models import Clinic


class NumberRelease(models.Model):
    """One release of one bought number. ``carrier_id`` is the number's ID in the account,
    read (and committed) before the first delete request: a retry deletes only that ID, so a
    number released and bought again meanwhile is never released twice."""

    class State(models.TextChoices):
        PENDING = "pending", "Releasing"
        RELEASED = "released", "Released"
        FAILED = "failed", "Not released"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="number_releases")
    purchase = models.ForeignKey(NumberPurchase, on_delete=models.CASCADE, related_name="releases")
    provider = models.CharField(max_length=10)
    e164 = models.CharField(max_length=16)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    carrier_id = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    deletes_sent = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    status_message = models.CharField(max_length=300, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ClinicScopedManager()

    class Meta:
        ordering = ("-created_at",)
        constraints = [
            # One release of a purchase underway or done: a repeat answers that one.
            models.UniqueConstraint(
                fields=["purchase"],
                condition=Q(state__in=["pending", "released"]),
                name="number_release_once",
            ),
        ]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="release_due")]

    def __str__(self) -> str:
        return f"{self.e164} of {self.clinic} ({self.get_state_display()})"
