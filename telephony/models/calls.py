"""Agent service tokens, calls, their outcomes, the call log policy and test calls."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models

from telephony.models.setup import ClinicScopedManager
from tenants.models import Clinic


class AgentToken(models.Model):
    """A service credential for the agent worker. Only its SHA-256 is stored.

    The secret is `secrets.token_urlsafe(32)` (256 bits), so a fast hash is enough: there is
    nothing to brute-force that a slow hash would protect. `prefix` is shown in admin and logs
    so operators can tell tokens apart without ever seeing one again.
    """

    name = models.CharField(max_length=100)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=16, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        editable=False,
        related_name="+",
    )

    class Meta:
        ordering: ClassVar = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class Call(models.Model):
    """One phone call, as LiveKit's webhooks describe its room. One row per LiveKit room.

    Individual dispatch rules create a new room for every call, so the room's SID is the
    call's identity: redelivered or reordered webhooks merge into the same row. The caller is
    kept as its last four digits only.
    """

    class Status(models.TextChoices):
        RINGING = "ringing", "Ringing"
        ACTIVE = "active", "In progress"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Not answered"

    class MappedBy(models.TextChoices):
        TRUNK = "trunk", "SIP trunk"
        RULE = "rule", "Dispatch rule"
        ATTRIBUTE = "attribute", "Rule attribute"
        ROOM_PREFIX = "room_prefix", "Room prefix"

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="calls")
    room_sid = models.CharField(max_length=64, unique=True)
    room_name = models.CharField(max_length=256, db_index=True)
    trunk_id = models.CharField(max_length=64, blank=True)
    rule_id = models.CharField(max_length=64, blank=True)
    call_id = models.CharField("SIP call ID", max_length=64, blank=True)
    caller_last4 = models.CharField(max_length=4, blank=True)
    # The full caller number (LiveKit's sip.phoneNumber), for members who call back. Shown to
    # owners and admins only; erased with everything else about a caller (decision 0030).
    caller_number = models.CharField(max_length=20, blank=True, db_index=True)
    # The clinic's number that was dialled (LiveKit's sip.trunkPhoneNumber), when shown.
    called_number = models.CharField(max_length=20, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RINGING)
    started_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    # Merge inputs: each is a min/max of what the webhooks said, so the order does not matter.
    caller_left_at = models.DateTimeField(null=True, blank=True)
    room_finished_at = models.DateTimeField(null=True, blank=True)
    mapped_by = models.CharField(max_length=16, choices=MappedBy.choices)
    is_test = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ClinicScopedManager()

    class Meta:
        # The call log's order, newest first; the id breaks ties so that a page's last row
        # is a cursor for the next (keyset pagination). One index serves it per clinic.
        ordering: ClassVar = ["-started_at", "-created_at", "-id"]
        indexes: ClassVar = [
            models.Index(fields=["clinic", "-created_at"]),
            models.Index(
                fields=["clinic", "-started_at", "-created_at", "-id"], name="call_log_order"
            ),
        ]

    def __str__(self) -> str:
        return f"Call {self.room_name} ({self.status})"

    @property
    def caller_masked(self) -> str:
        return f"***{self.caller_last4}" if self.caller_last4 else ""

    def caller_for(self, *, full: bool) -> str:
        """The caller as a member sees it: the whole number for those allowed, else masked."""
        return (self.caller_number or self.caller_masked) if full else self.caller_masked


class CallOutcome(models.Model):
    """What the agent says happened on a call, posted once at its end (decision 0030).

    Keyed by the call's (redacted) room name, not by the Call row: the agent may post before
    LiveKit's room_finished webhook has created or closed the row. `body_hash` identifies the
    first post, so a retry of the same post is recognised and a different one is refused.
    """

    class Consent(models.TextChoices):
        GRANTED = "granted", "Granted"
        DECLINED = "declined", "Declined"
        NOT_ASKED = "not_asked", "Not asked"

    class Outcome(models.TextChoices):
        APPOINTMENT_REQUEST = "appointment_request", "Appointment request"
        MESSAGE_TAKEN = "message_taken", "Message taken"
        ANSWERED = "answered", "Question answered"
        TRANSFERRED = "transferred", "Transferred"
        HUNG_UP = "hung_up", "Caller hung up"
        OTHER = "other", "Other"

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="call_outcomes")
    room_name = models.CharField(max_length=256)
    consent = models.CharField(max_length=16, choices=Consent.choices)
    consent_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=24, choices=Outcome.choices)
    summary = models.TextField(max_length=2000, blank=True)
    transcript = models.TextField(blank=True)
    transcript_purged_at = models.DateTimeField(null=True, blank=True)
    body_hash = models.CharField(max_length=64)
    posted_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = ClinicScopedManager()

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["clinic", "room_name"], name="one_outcome_per_call")
        ]

    def __str__(self) -> str:
        return f"Outcome of {self.room_name}: {self.outcome}"


class CallLogPolicy(models.Model):
    """How long a clinic keeps call details and transcripts (purged by telephony.purge_calls).

    A clinic without a row has the defaults; `for_clinic` returns an unsaved one then.
    """

    class TranscriptDays(models.IntegerChoices):
        NOT_STORED = 0, "Not stored"
        DAYS_30 = 30, "30 days"
        DAYS_90 = 90, "90 days"
        DAYS_365 = 365, "365 days"

    class CallDays(models.IntegerChoices):
        DAYS_30 = 30, "30 days"
        DAYS_90 = 90, "90 days"
        DAYS_365 = 365, "365 days"

    clinic = models.OneToOneField(Clinic, on_delete=models.CASCADE, related_name="call_policy")
    transcript_days = models.PositiveSmallIntegerField(
        choices=TranscriptDays.choices, default=TranscriptDays.DAYS_90
    )
    call_days = models.PositiveSmallIntegerField(
        choices=CallDays.choices, default=CallDays.DAYS_365
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = ClinicScopedManager()

    class Meta:
        verbose_name_plural = "call log policies"

    def __str__(self) -> str:
        return f"Call log policy of {self.clinic}"

    @classmethod
    def for_clinic(cls, clinic: Clinic) -> CallLogPolicy:
        return cls.objects.filter(clinic=clinic).first() or cls(clinic=clinic)

    @property
    def keeps_transcripts(self) -> bool:
        return self.transcript_days > 0


class TestCall(models.Model):
    """One number's result in a test call run, kept for the go-live checklist and to mark the
    emulator's simulated calls (by room name) as tests in the call log."""

    class Mode(models.TextChoices):
        EMULATOR = "emulator", "Emulator call simulation"
        DRY_RUN = "dry_run", "Dry run against LiveKit"

    __test__ = False  # not a pytest test class, despite the name
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="test_calls")
    mode = models.CharField(max_length=16, choices=Mode.choices)
    number = models.CharField(max_length=16)
    caller_last4 = models.CharField(max_length=4, blank=True)
    outcome = models.CharField(max_length=20)
    passed = models.BooleanField(default=False)
    room_name = models.CharField(max_length=256, blank=True, db_index=True)
    detail = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = ClinicScopedManager()

    class Meta:
        ordering: ClassVar = ["-created_at"]

    def __str__(self) -> str:
        return f"Test call to {self.number}: {self.outcome}"
