"""The clinic page's inlines: numbers, members, trunk settings, agent settings, timeline.

Trunk and agent settings are saved through the services (ClinicAdmin.save_formset), never
by the formset itself: a change must bump the version and re-provision LiveKit.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from telephony import services
from telephony.models import AgentConfig, PhoneNumber, ProvisioningEvent, TrunkSettings
from telephony.validators import validate_address
from tenants.models import Membership


class PhoneNumberInline(admin.TabularInline):
    model = PhoneNumber
    extra = 0
    fields = ("e164", "label", "created_at")
    readonly_fields = ("e164", "created_at")
    can_delete = False  # removing a number changes LiveKit: the web app / API service does it

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # numbers are added through the service (validation, uniqueness)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)


class AgentConfigInline(admin.StackedInline):
    """Saved through services.agent_config_update (version bump + re-provision)."""

    model = AgentConfig
    extra = 0
    can_delete = False
    readonly_fields = ("version",)


class TrunkSettingsForm(forms.ModelForm):
    auth_password = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Write-only: leave blank to keep the stored password.",
    )

    class Meta:
        model = TrunkSettings
        fields = ("allowed_addresses", "auth_username", "auth_password", "krisp_enabled")

    def clean_auth_password(self) -> str:
        new = self.cleaned_data.get("auth_password") or ""
        return new or (self.instance.auth_password if self.instance.pk else "")

    def clean(self) -> dict[str, Any]:
        # The service's rules, checked here so that a mistake is a form error, not a 500.
        data = super().clean() or {}
        addresses = data.get("allowed_addresses") or []
        if not isinstance(addresses, list):
            self.add_error("allowed_addresses", "Enter a JSON list of IPs or CIDR ranges.")
        else:
            if len(addresses) > services.MAX_ADDRESSES:
                self.add_error("allowed_addresses", f"At most {services.MAX_ADDRESSES} addresses.")
            for raw in addresses:
                try:
                    validate_address(str(raw))
                except ValidationError as exc:
                    self.add_error("allowed_addresses", exc.messages)
        if (data.get("auth_username") or "").strip() and not data.get("auth_password"):
            self.add_error(
                "auth_password", "Set a password for the SIP username, or clear the username."
            )
        return data


class TrunkSettingsInline(admin.StackedInline):
    """Saved through services.trunk_settings_update. The password is never rendered."""

    model = TrunkSettings
    form = TrunkSettingsForm
    extra = 0
    can_delete = False

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if self.has_change_permission(request, obj):
            return ["allowed_addresses", "auth_username", "auth_password", "krisp_enabled"]
        # View-only staff get every field as read-only text: never the password itself.
        return ["allowed_addresses", "auth_username", "password_status", "krisp_enabled"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["password_status"]

    @admin.display(description="SIP password")
    def password_status(self, trunk: TrunkSettings) -> str:
        return "set (hidden)" if trunk.auth_password else "not set"


class EventInline(admin.TabularInline):
    """The provisioning timeline: the newest EVENTS_SHOWN events (the full log is linked)."""

    EVENTS_SHOWN = 100
    model = ProvisioningEvent
    extra = 0
    can_delete = False
    fields = ("at", "generation", "action", "outcome", "detail", "duration_ms", "actor")
    readonly_fields = fields
    ordering = ("-at",)
    max_num = 0
    verbose_name_plural = "provisioning timeline (newest first)"

    def get_queryset(self, request: HttpRequest) -> QuerySet[ProvisioningEvent]:
        qs = super().get_queryset(request).select_related("actor")
        ids = list(qs.order_by("-at").values_list("pk", flat=True)[: self.EVENTS_SHOWN])
        return qs.filter(pk__in=ids)
