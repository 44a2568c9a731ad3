"""Input and output shapes for the tenants API (signup, tokens, clinics)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from tenants.models import Clinic, Membership, User


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know, naming them (a typo must not pass silently)."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {name: ["Unknown field; remove it."] for name in unknown}
                )
        return super().to_internal_value(data)


class SignupInput(StrictSerializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)
    clinic_name = serializers.CharField(max_length=120)


class TokenInput(StrictSerializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)


class TokenOutput(serializers.Serializer):
    token = serializers.CharField()


class UserOutput(serializers.ModelSerializer):
    email_verified = serializers.BooleanField(read_only=True)

    class Meta:
        model = User
        fields = ("id", "email", "email_verified")


class ClinicOutput(serializers.ModelSerializer):
    role = serializers.SerializerMethodField()

    class Meta:
        model = Clinic
        fields = ("id", "name", "slug", "room_prefix", "timezone", "state", "role", "created_at")

    def get_role(self, clinic: Clinic) -> str | None:
        roles: dict[Any, str] = self.context.get("roles", {})
        return roles.get(clinic.pk)


class SignupOutput(serializers.Serializer):
    user = UserOutput()
    clinic = ClinicOutput()
    token = serializers.CharField()


class ClinicCreateInput(StrictSerializer):
    name = serializers.CharField(max_length=120)
    timezone = serializers.CharField(max_length=64, required=False, default="UTC")


class ClinicUpdateInput(StrictSerializer):
    name = serializers.CharField(max_length=120, required=False)
    timezone = serializers.CharField(max_length=64, required=False)
    room_prefix = serializers.CharField(max_length=40, required=False)


def roles_for(user: User) -> dict[Any, str]:
    return dict(Membership.objects.filter(user=user).values_list("clinic_id", "role"))
