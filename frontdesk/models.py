"""What a receptionist needs at call time: the clinic's opening hours and closures, what it
knows about the clinic, and what each receptionist does when the clinic is closed.

Hours and knowledge live in one row per clinic (`FrontDesk`): they are always read whole,
by the agent config API on every call (one join, decision 0090), and written whole (PUT).
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models
from django.db.models.functions import Lower

from tenants.models import Clinic


def _empty_list() -> list[Any]:
    return []


class FrontDesk(models.Model):
    """A clinic's opening hours and the structured facts its receptionists answer with.

    `weekly`: [{"day": 0-6 (Monday = 0), "opens": minute of day, "closes": minute of day
    (1440 = midnight at the end of the day)}], in the clinic's time zone (Clinic.timezone).
    No weekly hours at all means open around the clock (as before hours existed).
    `closures`: [{"date": "YYYY-MM-DD", "reason": str}], whole days closed.
    `version` goes up with every change, so the agent config API's ETag follows it.
    """

    clinic = models.OneToOneField(Clinic, on_delete=models.CASCADE, related_name="front_desk")
    weekly = models.JSONField(default=_empty_list, blank=True)
    closures = models.JSONField(default=_empty_list, blank=True)
    address = models.TextField(blank=True, max_length=500)
    directions = models.TextField(blank=True, max_length=1000)
    services = models.JSONField(default=_empty_list, blank=True)
    insurers = models.JSONField(default=_empty_list, blank=True)
    languages = models.JSONField(default=_empty_list, blank=True)
    emergency_number = models.CharField(max_length=16, blank=True)
    faqs = models.JSONField("frequently asked questions", default=_empty_list, blank=True)
    # Email the clinic's owners and admins for each message the receptionist takes.
    email_messages = models.BooleanField("email each message", default=False)
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "front desk (hours and clinic facts)"
        verbose_name_plural = "front desks (hours and clinic facts)"

    def __str__(self) -> str:
        return f"Hours and facts of {self.clinic}"


class Location(models.Model):
    """One of a clinic's locations (a second practice, a satellite office): its name, its own
    address and directions, and optionally its own opening hours.

    A receptionist that names a location (`telephony.Receptionist.location`) answers with
    that location's address and directions, and decides open or closed from its hours when
    `own_hours` is set; otherwise from the clinic's (FrontDesk). `weekly` and `closures` have
    FrontDesk's shape. `timezone` "" means the clinic's zone (followed when it changes); it
    only matters for the location's own hours. `version` goes up with every change, so the
    agent config API's ETag follows it.
    """

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="locations")
    name = models.CharField(max_length=60)
    address = models.TextField(blank=True, max_length=500)
    directions = models.TextField(blank=True, max_length=1000)
    own_hours = models.BooleanField("has its own opening hours", default=False)
    timezone = models.CharField(max_length=64, blank=True, help_text="Blank: the clinic's.")
    weekly = models.JSONField(default=_empty_list, blank=True)
    closures = models.JSONField(default=_empty_list, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar = ["clinic", "id"]
        constraints: ClassVar = [
            models.UniqueConstraint("clinic", Lower("name"), name="location_name_unique_in_clinic"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.clinic})"

    @property
    def zone(self) -> str:
        return self.timezone or self.clinic.timezone


class AfterHours(models.Model):
    """What one receptionist does while the clinic is closed."""

    class Action(models.TextChoices):
        MESSAGE = "message", "Take a message"
        EMERGENCY = "emergency", "Give the emergency number, then offer to take a message"
        ROUTE = "route", "Hand the call to another receptionist"

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="+")
    receptionist = models.OneToOneField(
        "telephony.Receptionist", on_delete=models.CASCADE, related_name="after_hours"
    )
    action = models.CharField(max_length=16, choices=Action.choices, default=Action.MESSAGE)
    greeting = models.TextField(blank=True, max_length=500)
    instructions = models.TextField(blank=True, max_length=4000)
    # The receptionist who answers instead, for Action.ROUTE (same clinic: services check);
    # if it is deleted, the call falls back to taking a message (frontdesk.config).
    route_to = models.ForeignKey(
        "telephony.Receptionist",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "after-hours behaviour"
        verbose_name_plural = "after-hours behaviour"

    def __str__(self) -> str:
        return f"After hours of {self.receptionist}"


class Message(models.Model):
    """A message the receptionist took for the clinic (the agent posts it; decision 0092).

    The caller's number comes from the call (its room name or its call log row), not from
    the agent: `caller_number` is shown in full only to members allowed to see callers'
    numbers, as in the call log (decision 0030), and masked in lists. `room_name` is stored
    redacted like the call log's, which is how the call log links to the message.
    `idempotency_key` (the agent's `Idempotency-Key`) makes a retried post a no-op.
    """

    class Urgency(models.TextChoices):
        NORMAL = "normal", "Normal"
        URGENT = "urgent", "Urgent"

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="taken_messages")
    receptionist = models.ForeignKey(
        "telephony.Receptionist", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    room_name = models.CharField(max_length=256, db_index=True)
    caller_number = models.CharField(max_length=20, blank=True, db_index=True)
    caller_last4 = models.CharField(max_length=4, blank=True)
    caller_name = models.CharField(max_length=120, blank=True)
    callback_number = models.CharField(max_length=16, blank=True, db_index=True)
    reason = models.TextField(max_length=2000)
    urgency = models.CharField(max_length=8, choices=Urgency.choices, default=Urgency.NORMAL)
    idempotency_key = models.CharField(max_length=200, editable=False)
    body_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    handled_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(
        "tenants.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-created_at", "-id"]
        indexes: ClassVar = [models.Index(fields=["clinic", "-created_at"])]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["clinic", "idempotency_key"], name="message_once_per_idempotency_key"
            ),
        ]

    def __str__(self) -> str:
        return f"Message from {self.caller_masked or 'an unknown caller'}"

    @property
    def caller_masked(self) -> str:
        return f"***{self.caller_last4}" if self.caller_last4 else ""

    @property
    def callback_masked(self) -> str:
        return f"***{self.callback_number[-4:]}" if self.callback_number else ""

    @property
    def is_handled(self) -> bool:
        return self.handled_at is not None
