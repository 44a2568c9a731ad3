"""Input and output shapes for the tenants API (signup, tokens, clinics).

Inputs are strict: a field the API does not know is refused by name (a typo must not pass
silently), and text and boolean fields take only JSON strings and booleans, because DRF's
stock fields would quietly turn `123` into `"123"` or `"yes"` into `True`.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from rest_framework import serializers

from telephony.projects import project_of
from tenants.models import ApiToken, Clinic, Membership, User
from tenants.text import text_problem

NOT_TEXT = "Send this field as a JSON string."
NOT_BOOL = "Send this field as a JSON boolean: true or false."


class _TextOnly:
    """Mixin for text fields: refuse numbers, booleans, lists and objects, and text that is
    not plain (tenants/text.py). One line unless `multiline=True`: names, labels, emails and
    usernames refuse line breaks, tabs and other control characters, even at the ends."""

    def __init__(self, *args: Any, multiline: bool = False, **kwargs: Any) -> None:
        self.multiline = multiline
        super().__init__(*args, **kwargs)

    def run_validation(self, data: Any = serializers.empty) -> Any:
        # Before DRF's own: it turns whitespace-only input ("\n") into a blank value without
        # calling to_internal_value.
        if isinstance(data, str):
            problem = text_problem(data, multiline=self.multiline)
            if problem:
                raise serializers.ValidationError(problem, code="invalid")
        return super().run_validation(data)  # type: ignore[misc]

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            raise serializers.ValidationError(NOT_TEXT, code="invalid")
        return super().to_internal_value(data)  # type: ignore[misc]


class StrictCharField(_TextOnly, serializers.CharField):
    """A JSON string of plain text (one line unless `multiline=True`)."""


class StrictEmailField(_TextOnly, serializers.EmailField):
    pass


class StrictRegexField(_TextOnly, serializers.RegexField):
    pass


class StrictChoiceField(serializers.ChoiceField):
    """A JSON string from a fixed list; the error lists the choices and never echoes what
    was sent (which may be megabytes long, or not text at all)."""

    def run_validation(self, data: Any = serializers.empty) -> Any:
        # DRF returns "" for blank-after-trimming text before to_internal_value runs, so a
        # lone "\n" or "\t" in an optional field would pass unchecked: check it here first.
        if isinstance(data, str):
            problem = text_problem(data, multiline=getattr(self, "multiline", False))
            if problem:
                raise serializers.ValidationError(problem, code="invalid")
        return super().run_validation(data)

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            raise serializers.ValidationError(NOT_TEXT, code="invalid")
        if data not in self.choice_strings_to_values:
            choices = ", ".join(sorted(self.choice_strings_to_values))
            raise serializers.ValidationError(
                f"This is not a valid choice; choose one of: {choices}.", code="invalid_choice"
            )
        return self.choice_strings_to_values[data]


class StrictBooleanField(serializers.BooleanField):
    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            raise serializers.ValidationError(NOT_BOOL, code="invalid")
        return data


NOT_ID = "Send this field as a JSON number: the id, e.g. 12."


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer id (not a string, a boolean or a fraction), 1 or more."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int:
        if type(data) is not int:
            raise serializers.ValidationError(NOT_ID, code="invalid")
        return int(super().to_internal_value(data))


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know, naming them.

    `echo_fields` are the read-only fields a GET of the same resource returns: a client that
    PUTs back what it got must not be refused for them. With the resource's current output in
    `context["current"]`, such a field sent unchanged is ignored, and sent changed is refused
    with a sentence saying it cannot be changed here (`echo_hints` may say what to do instead).
    """

    echo_fields: ClassVar[tuple[str, ...]] = ()
    echo_hints: ClassVar[dict[str, str]] = {}

    default_error_messages = {
        "invalid": "Send a JSON object with the documented fields, e.g. {{}}; got {datatype}.",
    }

    def _without_echoes(self, data: dict[str, Any]) -> dict[str, Any]:
        current = self.context.get("current")
        if current is None or not self.echo_fields:
            return data
        kept: dict[str, Any] = {}
        errors: dict[str, list[str]] = {}
        for name, value in data.items():
            if name not in self.echo_fields or name not in current:
                kept[name] = value
            elif value != current[name]:
                hint = self.echo_hints.get(name, "send it unchanged or leave it out")
                errors[name] = [
                    f"This field is read-only (it is {json.dumps(current[name])}); {hint}."
                ]
        if errors:
            raise serializers.ValidationError(errors)
        return kept

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            data = self._without_echoes(data)
            known = {name for name, f in self.fields.items() if not f.read_only}
            unknown = sorted(set(data) - known)
            if unknown:
                raise serializers.ValidationError(
                    {
                        name: [
                            f"Unknown field; remove it (this endpoint takes: "
                            f"{', '.join(sorted(known))})."
                        ]
                        for name in unknown
                    }
                )
        return super().to_internal_value(data)


class SignupInput(StrictSerializer):
    email = StrictEmailField(max_length=254)
    password = StrictCharField(
        max_length=128, write_only=True, trim_whitespace=False, multiline=True
    )
    clinic_name = StrictCharField(max_length=120)
    region = StrictCharField(
        max_length=40,
        required=False,
        help_text="Where the clinic's calls are handled (e.g. eu), when more than one region "
        "is open; left out, the platform chooses.",
    )


class TokenInput(StrictSerializer):
    email = StrictEmailField(max_length=254)
    password = StrictCharField(
        max_length=128, write_only=True, trim_whitespace=False, multiline=True
    )
    code = StrictCharField(
        max_length=32,
        required=False,
        write_only=True,
        help_text="With two-factor sign-in on: a code from the app, or a recovery code.",
    )
    name = StrictCharField(
        max_length=100, required=False, help_text="What the token is for (default: auth/token)."
    )
    expires_in_days = serializers.IntegerField(
        min_value=1, max_value=3650, required=False, help_text="Default: 90 days."
    )


class ApiTokenInput(StrictSerializer):
    name = StrictCharField(max_length=100, help_text="What the token is for.")
    expires_in_days = serializers.IntegerField(
        min_value=1, max_value=3650, required=False, help_text="Default: 90 days."
    )


class ApiTokenOutput(serializers.ModelSerializer):
    status = serializers.ChoiceField(choices=["active", "expired", "revoked"], read_only=True)

    class Meta:
        model = ApiToken
        fields = (
            "id",
            "name",
            "prefix",
            "status",
            "created_at",
            "expires_at",
            "last_used_at",
            "revoked_at",
        )


class TokenOutput(serializers.Serializer):
    token = serializers.CharField(
        help_text="Send as `Authorization: Token <token>`. Shown once: only a hash is stored."
    )
    id = serializers.IntegerField()
    name = serializers.CharField()
    expires_at = serializers.DateTimeField(allow_null=True)


class UserOutput(serializers.ModelSerializer):
    email_verified = serializers.BooleanField(read_only=True)

    class Meta:
        model = User
        fields = ("id", "email", "email_verified")


class ClinicOutput(serializers.ModelSerializer):
    role = serializers.SerializerMethodField(help_text="The caller's role in this clinic.")
    region = serializers.SerializerMethodField(
        help_text="The region of the LiveKit project carrying the clinic's calls (may be empty)."
    )
    sip_uri = serializers.SerializerMethodField(
        help_text="The SIP URI to give the carrier: the clinic's LiveKit project's."
    )

    class Meta:
        model = Clinic
        fields = (
            "id",
            "name",
            "slug",
            "room_prefix",
            "timezone",
            "state",
            "role",
            "region",
            "sip_uri",
            "created_at",
        )

    def get_role(self, clinic: Clinic) -> str | None:
        roles: dict[Any, str] = self.context.get("roles", {})
        return roles.get(clinic.pk)

    def get_region(self, clinic: Clinic) -> str:
        return project_of(clinic).region

    def get_sip_uri(self, clinic: Clinic) -> str:
        return project_of(clinic).effective_sip_uri


class SignupOutput(serializers.Serializer):
    user = UserOutput()
    clinic = ClinicOutput()
    token = serializers.CharField(
        help_text="Send as `Authorization: Token <token>`. Shown once: only a hash is stored."
    )


class ClinicCreateInput(StrictSerializer):
    name = StrictCharField(max_length=120)
    timezone = StrictCharField(
        max_length=64, required=False, default="UTC", help_text="IANA name, e.g. Europe/London"
    )
    region = StrictCharField(
        max_length=40,
        required=False,
        help_text="Where the clinic's calls are handled (e.g. eu); left out, the platform chooses.",
    )


class ClinicUpdateInput(StrictSerializer):
    echo_fields = ("id", "slug", "state", "role", "region", "sip_uri", "created_at")
    echo_hints: ClassVar[dict[str, str]] = {
        "state": "go live, suspend or offboard through their own endpoints",
        "region": "platform staff move a clinic between regions",
        "sip_uri": "it is the clinic's LiveKit project's",
    }

    name = StrictCharField(max_length=120, required=False)
    timezone = StrictCharField(max_length=64, required=False)
    room_prefix = StrictCharField(
        max_length=40,
        required=False,
        help_text="3-40 lowercase letters, digits or hyphens; may not overlap another clinic's.",
    )


class ErrorOutput(serializers.Serializer):
    """403/404/401 bodies."""

    detail = serializers.CharField()


def roles_for(user: User) -> dict[Any, str]:
    return dict(Membership.objects.filter(user=user).values_list("clinic_id", "role"))
