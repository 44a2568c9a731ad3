"""Input and output shapes for numbers, carrier settings, agent settings and provisioning."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from telephony.models import AgentConfig, PhoneNumber, Provisioning, ProvisioningEvent
from tenants.api.serializers import StrictSerializer


class NumberInput(StrictSerializer):
    e164 = serializers.CharField(max_length=64, help_text="International format, e.g. +14155550100")
    label = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")


class NumberOutput(serializers.ModelSerializer):
    class Meta:
        model = PhoneNumber
        fields = ("e164", "label", "created_at")


class TrunkSettingsInput(StrictSerializer):
    allowed_addresses = serializers.ListField(
        child=serializers.CharField(max_length=100), max_length=20, required=False
    )
    auth_username = serializers.CharField(max_length=120, required=False, allow_blank=True)
    auth_password = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        write_only=True,
        trim_whitespace=False,
        help_text="Write-only. Blank or absent keeps the stored password.",
    )
    krisp_enabled = serializers.BooleanField(required=False)


class TrunkSettingsOutput(serializers.Serializer):
    allowed_addresses = serializers.ListField(child=serializers.CharField())
    auth_username = serializers.CharField()
    auth_password_set = serializers.BooleanField()
    krisp_enabled = serializers.BooleanField()


class AgentInput(StrictSerializer):
    agent_name = serializers.RegexField(
        r"^[A-Za-z0-9._-]*$", max_length=64, required=False, allow_blank=True
    )
    greeting = serializers.CharField(max_length=500, required=False)
    instructions = serializers.CharField(max_length=8000, required=False)
    language = serializers.ChoiceField(AgentConfig.Language.choices, required=False)
    voice = serializers.ChoiceField(AgentConfig.Voice.choices, required=False)
    stt_model = serializers.ChoiceField(AgentConfig.SttModel.choices, required=False)
    llm_model = serializers.ChoiceField(AgentConfig.LlmModel.choices, required=False)
    tts_model = serializers.ChoiceField(AgentConfig.TtsModel.choices, required=False)
    recording_consent_required = serializers.BooleanField(required=False)


class AgentOutput(serializers.ModelSerializer):
    class Meta:
        model = AgentConfig
        fields = (
            "agent_name",
            "greeting",
            "instructions",
            "language",
            "voice",
            "stt_model",
            "llm_model",
            "tts_model",
            "recording_consent_required",
            "version",
            "updated_at",
        )


class EventOutput(serializers.ModelSerializer):
    class Meta:
        model = ProvisioningEvent
        fields = ("action", "outcome", "detail", "generation", "duration_ms", "at")


class ProvisioningOutput(serializers.ModelSerializer):
    state_label = serializers.CharField(source="get_state_display")
    room_prefix = serializers.CharField(source="clinic.room_prefix")
    clinic_state = serializers.CharField(source="clinic.state")
    events = serializers.SerializerMethodField()

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
    def get_events(self, prov: Provisioning) -> list[dict[str, object]]:
        events = ProvisioningEvent.objects.filter(clinic_id=prov.clinic_id).order_by("-at")[:20]
        return list(EventOutput(events, many=True).data)


class AcceptedOutput(serializers.Serializer):
    state = serializers.CharField()
    detail = serializers.CharField()
