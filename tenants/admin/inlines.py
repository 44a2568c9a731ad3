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
from telephony.models import PhoneNumber, ProvisioningEvent, Receptionist, TrunkSettings
from telephony.receptionists import (
    MAX_RECEPTIONISTS_PER_CLINIC,
    RECEPTIONIST_FIELDS,
    phone_number_assign,
    receptionist_create,
    receptionist_delete,
    receptionist_update,
)
from telephony.validators import validate_address
from tenants.models import Membership


class PhoneNumberInline(admin.TabularInline):
    """Staff may choose a number's receptionist (saved through phone_number_assign)."""

    model = PhoneNumber
    extra = 0
    fields = ("e164", "label", "receptionist", "created_at")
    readonly_fields = ("e164", "label", "created_at")
    can_delete = False  # removing a number changes LiveKit: the web app / API service does it

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # numbers are added through the service (validation, uniqueness)

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        formset = super().get_formset(request, obj, **kwargs)
        field = formset.form.base_fields["receptionist"]
        field.queryset = (
            Receptionist.objects.for_clinic(obj) if obj else Receptionist.objects.none()
        )
        field.widget.can_add_related = field.widget.can_change_related = False
        field.widget.can_delete_related = field.widget.can_view_related = False
        return formset


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)


class ReceptionistFormSet(forms.BaseInlineFormSet):
    """What the services would refuse, refused as form errors (never a 500)."""

    def clean(self) -> None:
        super().clean()
        kept = [
            f
            for f in self.forms
            if f not in self.deleted_forms and (f.instance.pk is not None or f.has_changed())
        ]
        if not kept:
            raise ValidationError("A clinic needs at least one receptionist.")
        names = [(f.cleaned_data.get("name") or "").strip().casefold() for f in kept]
        if len(set(names)) != len(names):
            raise ValidationError("Two receptionists of a clinic cannot have the same name.")
        if len(kept) > MAX_RECEPTIONISTS_PER_CLINIC:
            raise ValidationError(
                f"A clinic can have at most {MAX_RECEPTIONISTS_PER_CLINIC} receptionists."
            )


class ReceptionistInline(admin.StackedInline):
    """Saved through telephony.receptionists (version bump + re-provision); deleting one
    moves its numbers to the clinic's first other receptionist."""

    model = Receptionist
    formset = ReceptionistFormSet
    extra = 0
    # The location is the clinic's own choice (its pages and API check it is the clinic's).
    readonly_fields = ("slug", "location", "version", "created_at")

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        formset = super().get_formset(request, obj, **kwargs)
        # The admin refuses to delete a row that numbers point at (RESTRICT); the service
        # moves them first, so that check does not apply here.
        formset.form.hand_clean_DELETE = lambda form: None
        return formset


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


def save_receptionists(clinic: Any, formset: Any) -> None:
    """The receptionist inline's changes, each through its service (ReceptionistFormSet
    has refused what the services would)."""
    for f in formset.forms:
        if f in formset.deleted_forms:
            if f.instance.pk is not None:
                receptionist_delete(receptionist=f.instance)
            continue
        if not f.has_changed():
            continue
        changes = {k: f.cleaned_data[k] for k in f.changed_data if k in RECEPTIONIST_FIELDS}
        if f.instance.pk is None:
            receptionist_create(clinic=clinic, **changes)
        else:
            receptionist_update(receptionist=f.instance, **changes)


def save_number_assignments(clinic: Any, formset: Any) -> None:
    for f in formset.forms:
        if "receptionist" in f.changed_data:
            phone_number_assign(
                clinic=clinic, e164=f.instance.e164, receptionist=f.cleaned_data["receptionist"]
            )
