"""Input and output shapes for numbers, carrier settings, receptionists and provisioning."""

from __future__ import annotations

from typing import Any, ClassVar

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from telephony.models import PhoneNumber, Provisioning, ProvisioningEvent, Receptionist
from telephony.receptionists import AGENT_FIELDS
from telephony.services import MAX_ADDRESSES
from telephony.validators import MAX_PHONE_INPUT
from tenants.api.serializers import (
    StrictBooleanField,
    StrictCharField,
    StrictChoiceField,
    StrictIntegerField,
    StrictRegexField,
    StrictSerializer,
)

RECENT_EVENTS = 20


class NumberInput(StrictSerializer):
    e164 = StrictCharField(
        max_length=MAX_PHONE_INPUT,
        help_text="International format, e.g. +14155550100 (spaces, dashes and brackets are "
        "accepted and removed).",
    )
    label = StrictCharField(max_length=60, required=False, allow_blank=True, default="")
    receptionist = StrictIntegerField(
        required=False,
        default=None,
        help_text="The id of the receptionist who answers it (one of this clinic's); "
        "left out: the clinic's first receptionist.",
    )


class NumberPatchInput(StrictSerializer):
    echo_fields = ("e164", "label", "created_at")
    echo_hints: ClassVar[dict[str, str]] = {
        "e164": "remove the number and add the new one",
        "label": "remove the number and add it again with the new label",
    }

    receptionist = StrictIntegerField(
        help_text="The id of the receptionist who will answer the number (one of this "
        "clinic's receptionists)."
    )


class NumberOutput(serializers.ModelSerializer):
    receptionist = serializers.IntegerField(
        source="receptionist_id", help_text="The id of the receptionist who answers it."
    )

    class Meta:
        model = PhoneNumber
        fields = ("e164", "label", "receptionist", "created_at")


class TrunkSettingsInput(StrictSerializer):
    echo_fields = ("auth_password_set",)
    echo_hints: ClassVar[dict[str, str]] = {
        "auth_password_set": "it says whether a SIP password is stored; send auth_password to "
        "set one, or a blank auth_username to remove both",
    }

    allowed_addresses = serializers.ListField(
        child=StrictCharField(max_length=100),
        max_length=MAX_ADDRESSES,
        required=False,
        help_text="The carrier's signalling addresses: IPs, CIDR blocks or hostnames.",
    )
    auth_username = StrictCharField(
        max_length=120,
        required=False,
        allow_blank=True,
        help_text="Optional SIP digest username; blank removes authentication.",
    )
    auth_password = StrictCharField(
        max_length=200,
        required=False,
        allow_blank=True,
        write_only=True,
        trim_whitespace=False,
        multiline=True,
        help_text="Write-only: never returned. Blank or absent keeps the stored password.",
    )
    krisp_enabled = StrictBooleanField(required=False)


class TrunkSettingsOutput(serializers.Serializer):
    allowed_addresses = serializers.ListField(child=serializers.CharField())
    auth_username = serializers.CharField()
    auth_password_set = serializers.BooleanField(
        help_text="Whether a SIP password is stored (the password itself is never returned)."
    )
    krisp_enabled = serializers.BooleanField()


def _choice(choices: Any) -> serializers.ChoiceField:
    return StrictChoiceField(choices, required=False)


class AgentInput(StrictSerializer):
    echo_fields: ClassVar[tuple[str, ...]] = ("version", "updated_at")
    echo_hints: ClassVar[dict[str, str]] = {
        "version": "it goes up by itself with every change",
    }

    agent_name = StrictRegexField(
        r"^[A-Za-z0-9._-]*$",
        max_length=64,
        required=False,
        allow_blank=True,
        help_text="Blank: the platform's agent. Letters, digits, dot, dash, underscore.",
    )
    greeting = StrictCharField(max_length=500, required=False, multiline=True)
    instructions = StrictCharField(max_length=8000, required=False, multiline=True)
    language = _choice(Receptionist.Language.choices)
    voice = _choice(Receptionist.Voice.choices)
    stt_model = _choice(Receptionist.SttModel.choices)
    llm_model = _choice(Receptionist.LlmModel.choices)
    tts_model = _choice(Receptionist.TtsModel.choices)
    recording_consent_required = StrictBooleanField(required=False)


class AgentOutput(serializers.ModelSerializer):
    """The agent settings (telephony.receptionists.AGENT_FIELDS, the fields AgentInput
    takes), as `agent/` shows them; `receptionists/` shows the same list."""

    class Meta:
        model = Receptionist
        fields = (*AGENT_FIELDS, "version", "updated_at")


class EventOutput(serializers.ModelSerializer):
    class Meta:
        model = ProvisioningEvent
        fields = ("action", "outcome", "detail", "generation", "duration_ms", "at")


class ProvisioningOutput(serializers.ModelSerializer):
    state_label = serializers.CharField(source="get_state_display")
    room_prefix = serializers.CharField(source="clinic.room_prefix")
    clinic_state = serializers.CharField(source="clinic.state")
    events = serializers.SerializerMethodField(
        help_text=f"The {RECENT_EVENTS} most recent provisioning events, newest first."
    )

    class Meta:
        model = Provisioning
        fields = (
            "state",
            "state_label",
            "clinic_state",
            "generation",
            "observed_generation",
            "trunk_id",
            "dispatch_rule_id",
            "room_prefix",
            "attempts",
            "last_error",
            "next_attempt_at",
            "converged_at",
            "events",
        )

    @extend_schema_field(EventOutput(many=True))
    def get_events(self, prov: Provisioning) -> list[dict[str, Any]]:
        events = ProvisioningEvent.objects.filter(clinic_id=prov.clinic_id).order_by("-at")
        return list(EventOutput(events[:RECENT_EVENTS], many=True).data)


class AcceptedOutput(serializers.Serializer):
    state = serializers.CharField(help_text="The provisioning state right after the request.")
    detail = serializers.CharField()
