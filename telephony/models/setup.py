"""A clinic's telephony setup: phone numbers, carrier (trunk) settings, receptionists."""

from __future__ import annotations

from typing import ClassVar, cast

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from telephony.crypto import EncryptedTextField
from telephony.validators import E164_RE
from tenants.models import Clinic


class ClinicScopedQuerySet(models.QuerySet):
    def for_clinic(self, clinic: Clinic) -> ClinicScopedQuerySet:
        return self.filter(clinic=clinic)


ClinicScopedManager = models.Manager.from_queryset(ClinicScopedQuerySet)


class PhoneNumber(models.Model):
    """A DID the clinic's carrier routes to LiveKit. One number belongs to one clinic, and
    is answered by one of the clinic's receptionists (telephony.services keeps the two in
    the same clinic; RESTRICT: a receptionist with numbers is deleted only by moving them)."""

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="phone_numbers")
    receptionist = models.ForeignKey(
        "Receptionist", on_delete=models.RESTRICT, related_name="numbers"
    )
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
    # "I've configured my carrier": the admin's word that the carrier sends the calls here,
    # for clinics that set their carrier up by hand (telephony/carrier_readiness.py).
    carrier_confirmed_at = models.DateTimeField(null=True, blank=True)
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


RECEPTIONIST_SLUG_RE = r"^[a-z][a-z0-9-]{0,19}$"
FIRST_RECEPTIONIST_NAME = "Main line"
FIRST_RECEPTIONIST_SLUG = "main"


class ReceptionistQuerySet(ClinicScopedQuerySet):
    def first_of(self, clinic: Clinic) -> Receptionist:
        """The clinic's first receptionist (the oldest): new numbers go to it, the agent
        settings endpoint edits it, and a job without a receptionist in its metadata gets
        it (decision 0064)."""
        return cast("Receptionist", self.filter(clinic=clinic).order_by("id")[:1].get())


class Receptionist(models.Model):
    """One of a clinic's receptionists: a line with its own greeting, instructions, language,
    voice, models and consent setting. `version` is bumped on every change. `slug` names the
    line in LiveKit (room names, dispatch metadata): set once when created, kept on rename.
    """

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

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="receptionists")
    name = models.CharField(max_length=60)
    slug = models.CharField(max_length=20, editable=False)
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
    # The location it answers for (issue 15): its address, directions and, if it has them,
    # its own opening hours. Call-time facts, like the hours: not part of `version` and
    # nothing LiveKit holds (frontdesk.locations). Deleting the location: the clinic's.
    location = models.ForeignKey(
        "frontdesk.Location",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="receptionists",
    )
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = models.Manager.from_queryset(ReceptionistQuerySet)()

    class Meta:
        ordering: ClassVar = ["clinic", "id"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                "clinic", Lower("name"), name="receptionist_name_unique_in_clinic"
            ),
            models.UniqueConstraint(
                fields=["clinic", "slug"], name="receptionist_slug_unique_in_clinic"
            ),
            models.CheckConstraint(
                condition=models.Q(slug__regex=RECEPTIONIST_SLUG_RE),
                name="receptionist_slug_format",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} at {self.clinic} (v{self.version})"

    @property
    def effective_agent_name(self) -> str:
        return self.agent_name or settings.LIVEKIT_AGENT_NAME
