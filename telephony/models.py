"""Phone numbers, carrier (trunk) settings, agent configuration and provisioning state."""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models

from telephony.crypto import EncryptedTextField
from telephony.validators import E164_RE
from tenants.models import Clinic


class ClinicScopedQuerySet(models.QuerySet):
    def for_clinic(self, clinic: Clinic) -> ClinicScopedQuerySet:
        return self.filter(clinic=clinic)


ClinicScopedManager = models.Manager.from_queryset(ClinicScopedQuerySet)


class PhoneNumber(models.Model):
    """A DID the clinic's carrier routes to LiveKit. One number belongs to one clinic."""

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="phone_numbers")
    e164 = models.CharField("phone number", max_length=16, unique=True)
    label = models.CharField(max_length=60, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ClinicScopedManager()

    class Meta:
        ordering: ClassVar = ["e164"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(e164__regex=E164_RE), name="phonenumber_e164_format"
            ),
        ]

    def __str__(self) -> str:
        return self.e164


class TrunkSettings(models.Model):
    """What the clinic's carrier needs: where calls come from, and optional SIP auth."""

    clinic = models.OneToOneField(Clinic, on_delete=models.CASCADE, related_name="trunk_settings")
    allowed_addresses = models.JSONField(default=list, blank=True)
    auth_username = models.CharField(max_length=120, blank=True)
    auth_password = EncryptedTextField(blank=True)
    krisp_enabled = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ClinicScopedManager()

    def __str__(self) -> str:
        return f"Carrier settings for {self.clinic}"

    @property
    def has_auth(self) -> bool:
        return bool(self.auth_username and self.auth_password)


DEFAULT_GREETING = "Thank you for calling {clinic}. How can I help you today?"
DEFAULT_INSTRUCTIONS = (
    "You are the friendly, professional receptionist of {clinic}, a dental practice. "
    "Help callers book, move or cancel appointments, answer questions about opening hours, "
    "location, services and insurance, and take a message when you cannot help. "
    "Ask for the caller's name, date of birth and a call-back number before booking. "
    "Never give medical advice or diagnoses; for severe pain, swelling, bleeding or trauma, "
    "tell the caller to seek emergency care now. Keep answers short and clear, speak "
    "naturally, and confirm details back to the caller."
)


class AgentConfig(models.Model):
    """How the clinic's receptionist behaves. `version` is bumped on every change."""

    class Language(models.TextChoices):
        EN_US = "en-US", "English (US)"
        EN_GB = "en-GB", "English (UK)"
        ES_ES = "es-ES", "Spanish"
        FR_FR = "fr-FR", "French"
        DE_DE = "de-DE", "German"

    class Voice(models.TextChoices):
        ALLOY = "alloy", "Alloy (neutral)"
        ASH = "ash", "Ash (calm)"
        CORAL = "coral", "Coral (warm)"
        SAGE = "sage", "Sage (bright)"

    class SttModel(models.TextChoices):
        DEEPGRAM_NOVA3 = "deepgram/nova-3", "Deepgram Nova-3"
        OPENAI_WHISPER = "openai/whisper-1", "OpenAI Whisper"

    class LlmModel(models.TextChoices):
        GPT_4O_MINI = "openai/gpt-4o-mini", "OpenAI GPT-4o mini"
        GPT_4_1 = "openai/gpt-4.1", "OpenAI GPT-4.1"

    class TtsModel(models.TextChoices):
        OPENAI_TTS = "openai/gpt-4o-mini-tts", "OpenAI TTS"
        CARTESIA_SONIC = "cartesia/sonic-2", "Cartesia Sonic"

    clinic = models.OneToOneField(Clinic, on_delete=models.CASCADE, related_name="agent_config")
    agent_name = models.CharField(max_length=64, blank=True, help_text="Blank: platform default.")
    greeting = models.CharField(max_length=500)
    instructions = models.TextField(max_length=8000)
    language = models.CharField(max_length=8, choices=Language.choices, default=Language.EN_US)
    voice = models.CharField(max_length=16, choices=Voice.choices, default=Voice.CORAL)
    stt_model = models.CharField(
        max_length=40, choices=SttModel.choices, default=SttModel.DEEPGRAM_NOVA3
    )
    llm_model = models.CharField(
        max_length=40, choices=LlmModel.choices, default=LlmModel.GPT_4O_MINI
    )
    tts_model = models.CharField(
        max_length=40, choices=TtsModel.choices, default=TtsModel.OPENAI_TTS
    )
    recording_consent_required = models.BooleanField(default=True)
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ClinicScopedManager()

    def __str__(self) -> str:
        return f"Agent for {self.clinic} (v{self.version})"

    @property
    def effective_agent_name(self) -> str:
        return self.agent_name or settings.LIVEKIT_AGENT_NAME


class Provisioning(models.Model):
    """The clinic's LiveKit objects and how far reconcile has brought them.

    `generation` is bumped in the same transaction as every change LiveKit must follow;
    reconcile sets `observed_generation` when LiveKit holds that generation.
    """

    class State(models.TextChoices):
        NEW = "new", "Not live yet"
        PENDING = "pending", "Pending"
        PROVISIONING = "provisioning", "Provisioning"
        ACTIVE = "active", "Active"
        RETRYING = "retrying", "Retrying"
        FAILED = "failed", "Failed"
        DEPROVISIONING = "deprovisioning", "Deprovisioning"
        DEPROVISIONED = "deprovisioned", "Deprovisioned"

    clinic = models.OneToOneField(Clinic, on_delete=models.CASCADE, related_name="provisioning")
    generation = models.PositiveBigIntegerField(default=0)
    observed_generation = models.PositiveBigIntegerField(default=0)
    state = models.CharField(max_length=16, choices=State.choices, default=State.NEW)
    trunk_id = models.CharField(max_length=64, blank=True, db_index=True)
    dispatch_rule_id = models.CharField(max_length=64, blank=True, db_index=True)
    # Create intents: written and committed before a create call, cleared when its outcome
    # is known. An intent found at the start of a run means "the last create may have
    # succeeded": observe and adopt before creating again.
    trunk_intent = models.UUIDField(null=True, blank=True)
    trunk_intent_numbers = models.JSONField(default=list, blank=True)
    trunk_intent_at = models.DateTimeField(null=True, blank=True)
    rule_intent = models.UUIDField(null=True, blank=True)
    rule_intent_at = models.DateTimeField(null=True, blank=True)
    # HMAC of the spec last written upstream: an unchanged spec needs no call.
    trunk_applied_hash = models.CharField(max_length=64, blank=True)
    rule_applied_hash = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_error = models.TextField(blank=True)
    last_error_code = models.CharField(max_length=40, blank=True)
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    requested_at = models.DateTimeField(null=True, blank=True)
    converged_at = models.DateTimeField(null=True, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ClinicScopedManager()

    class Meta:
        indexes: ClassVar = [models.Index(fields=["state", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"Provisioning of {self.clinic}: {self.state}"

    @property
    def converged(self) -> bool:
        return self.observed_generation >= self.generation


class ProvisioningEvent(models.Model):
    """Append-only log of what reconcile did, one row per step (and per operator action)."""

    class Outcome(models.TextChoices):
        OK = "ok", "OK"
        ERROR = "error", "Error"
        SKIPPED = "skipped", "Skipped"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="provisioning_events")
    generation = models.PositiveBigIntegerField(default=0)
    action = models.CharField(max_length=40)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.OK)
    detail = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = ClinicScopedManager()

    class Meta:
        ordering: ClassVar = ["-at"]
        indexes: ClassVar = [models.Index(fields=["clinic", "-at"])]

    def __str__(self) -> str:
        return f"{self.action} {self.outcome}"


class UpstreamStatus(models.Model):
    """One row (pk=1): LiveKit-wide conditions that concern every clinic.

    When LiveKit rejects the platform's credentials, provisioning stops calling for
    everyone until the configuration (URL, key or secret) changes: the fingerprint of the
    rejected configuration is kept here and compared with the running one.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    auth_failed_fingerprint = models.CharField(max_length=64, blank=True)
    auth_failed_at = models.DateTimeField(null=True, blank=True)
    auth_failed_detail = models.TextField(blank=True)
    last_drift_scan_at = models.DateTimeField(null=True, blank=True)
    last_drift_scan = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = "LiveKit status"
        verbose_name_plural = "LiveKit status"

    def __str__(self) -> str:
        return "LiveKit status"

    @classmethod
    def load(cls) -> UpstreamStatus:
        obj, _ = cls.objects.get_or_create(pk=1)
        return obj


class OrphanObject(models.Model):
    """A LiveKit object with our marker that no live clinic claims (seen by the drift scan)."""

    class Kind(models.TextChoices):
        TRUNK = "trunk", "Inbound trunk"
        RULE = "rule", "Dispatch rule"

    object_id = models.CharField(max_length=64, unique=True)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    clinic_ref = models.CharField(max_length=64, blank=True)
    name = models.CharField(max_length=200, blank=True)
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-last_seen_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_id}"


# --- Agent service tokens, calls and test calls ------------------------------------------------


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
        ordering: ClassVar = ["-started_at", "-created_at"]
        indexes: ClassVar = [models.Index(fields=["clinic", "-created_at"])]

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
