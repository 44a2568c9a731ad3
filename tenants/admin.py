"""Staff admin: users, clinics with their provisioning state, memberships.

Actions go through the same services as the web app and record the acting staff user.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from telephony import services
from telephony.models import AgentConfig, PhoneNumber, ProvisioningEvent, TrunkSettings
from telephony.services import AGENT_FIELDS
from tenants.models import Clinic, Membership, User
from tenants.services import clinic_update


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ("email",)
    list_display = ("email", "email_verified_at", "is_staff", "is_active", "date_joined")
    search_fields = ("email",)
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Verification", {"fields": ("email_verified_at",)}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


class PhoneNumberInline(admin.TabularInline):
    model = PhoneNumber
    extra = 0
    fields = ("e164", "label", "created_at")
    readonly_fields = ("e164", "created_at")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # numbers are added through the service (validation, uniqueness)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)


class AgentConfigInline(admin.StackedInline):
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


class TrunkSettingsInline(admin.StackedInline):
    model = TrunkSettings
    form = TrunkSettingsForm
    extra = 0
    can_delete = False


class ProvisioningStateFilter(admin.SimpleListFilter):
    title = "provisioning state"
    parameter_name = "provisioning"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        from telephony.models import Provisioning

        return list(Provisioning.State.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet[Clinic]) -> QuerySet[Clinic]:
        value = self.value()
        return queryset.filter(provisioning__state=value) if value else queryset


@admin.register(Clinic)
class ClinicAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "slug",
        "state",
        "provisioning_state",
        "numbers",
        "trunk_id",
        "rule_id",
        "attempts",
        "next_attempt",
        "last_error",
    )
    list_filter = ("state", ProvisioningStateFilter)
    search_fields = (
        "name",
        "slug",
        "room_prefix",
        "phone_numbers__e164",
        "provisioning__trunk_id",
        "provisioning__dispatch_rule_id",
    )
    readonly_fields = ("id", "state", "created_at", "updated_at", "recent_events")
    fields = (
        "id",
        "name",
        "slug",
        "room_prefix",
        "timezone",
        "state",
        "created_at",
        "updated_at",
        "recent_events",
    )
    inlines = (
        PhoneNumberInline,
        MembershipInline,
        TrunkSettingsInline,
        AgentConfigInline,
    )
    actions = ("reprovision_now", "retry_failed", "offboard")
    list_select_related = ("provisioning",)
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Clinic]:
        return (
            super()
            .get_queryset(request)
            .select_related("provisioning")
            .annotate(number_count=Count("phone_numbers", distinct=True))
        )

    @admin.display(description="provisioning events (newest first)")
    def recent_events(self, clinic: Clinic) -> str:
        events = ProvisioningEvent.objects.filter(clinic=clinic).select_related("actor")[:30]
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (e.at, e.generation, e.action, e.outcome, e.detail[:200], e.actor or "")
                for e in events
            ),
        )
        return format_html(
            "<table><tr><th>at</th><th>gen</th><th>action</th><th>outcome</th><th>detail</th>"
            "<th>by</th></tr>{}</table>",
            rows,
        )

    def save_model(self, request: HttpRequest, obj: Clinic, form: Any, change: bool) -> None:
        """Edits go through the service, so a new room prefix is re-provisioned."""
        if not change:
            super().save_model(request, obj, form, change)
            return
        clinic_update(
            clinic=Clinic.objects.get(pk=obj.pk),
            name=obj.name,
            timezone_name=obj.timezone,
            room_prefix=obj.room_prefix,
        )

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """Carrier and agent settings go through their services (validation, re-provision)."""
        clinic = form.instance
        # The admin's change message reads these; the services did the writing.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        if formset.model is TrunkSettings:
            for f in formset.forms:
                if f.has_changed():
                    data = f.cleaned_data
                    services.trunk_settings_update(
                        clinic=clinic,
                        allowed_addresses=data["allowed_addresses"],
                        auth_username=data["auth_username"],
                        auth_password=data["auth_password"] or None,
                        krisp_enabled=data["krisp_enabled"],
                    )
            return
        if formset.model is AgentConfig:
            for f in formset.forms:
                changed = {k: f.cleaned_data[k] for k in f.changed_data if k in AGENT_FIELDS}
                if changed:
                    services.agent_config_update(clinic=clinic, **changed)
            return
        super().save_formset(request, form, formset, change)

    @admin.display(description="provisioning", ordering="provisioning__state")
    def provisioning_state(self, clinic: Clinic) -> str:
        return clinic.provisioning.get_state_display()

    @admin.display(description="numbers", ordering="number_count")
    def numbers(self, clinic: Clinic) -> int:
        return clinic.number_count  # type: ignore[attr-defined, no-any-return]

    @admin.display(description="trunk")
    def trunk_id(self, clinic: Clinic) -> str:
        return clinic.provisioning.trunk_id

    @admin.display(description="rule")
    def rule_id(self, clinic: Clinic) -> str:
        return clinic.provisioning.dispatch_rule_id

    @admin.display(description="attempts")
    def attempts(self, clinic: Clinic) -> int:
        return clinic.provisioning.attempts

    @admin.display(description="next attempt")
    def next_attempt(self, clinic: Clinic) -> Any:
        return clinic.provisioning.next_attempt_at

    @admin.display(description="last error")
    def last_error(self, clinic: Clinic) -> str:
        return clinic.provisioning.last_error[:120]

    @admin.action(description="Re-provision now (verify LiveKit's objects)")
    def reprovision_now(self, request: HttpRequest, queryset: QuerySet[Clinic]) -> None:
        n = 0
        for clinic in queryset.exclude(state=Clinic.State.DRAFT):
            services.provisioning_reprovision(clinic=clinic, actor=request.user)  # type: ignore[arg-type]
            n += 1
        self.message_user(request, f"Re-provisioning {n} clinic(s).", messages.SUCCESS)

    @admin.action(description="Retry failed provisioning")
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[Clinic]) -> None:
        n = 0
        for clinic in queryset.filter(provisioning__state="failed"):
            services.provisioning_retry(clinic=clinic, actor=request.user)  # type: ignore[arg-type]
            n += 1
        self.message_user(request, f"Retrying {n} clinic(s).", messages.SUCCESS)

    @admin.action(description="Offboard (delete LiveKit objects, release numbers)")
    def offboard(self, request: HttpRequest, queryset: QuerySet[Clinic]) -> None:
        n = 0
        for clinic in queryset.exclude(state=Clinic.State.OFFBOARDED):
            services.clinic_offboard(clinic=clinic, actor=request.user)  # type: ignore[arg-type]
            n += 1
        self.message_user(request, f"Offboarding {n} clinic(s).", messages.SUCCESS)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "clinic", "role", "created_at")
    list_filter = ("role",)
    search_fields = ("user__email", "clinic__name", "clinic__slug")
    list_select_related = ("user", "clinic")
    autocomplete_fields = ("user", "clinic")
