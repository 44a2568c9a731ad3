"""Staff admin: users, clinics with their provisioning state, memberships.

The admin is staff-only and cross-tenant by design. Every change LiveKit must follow goes
through the same services as the web app and the API (so the provisioning generation is
bumped and reconcile enqueued), and the actions record the acting staff user.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from telephony import services
from telephony.models import AgentConfig, PhoneNumber, ProvisioningEvent, TrunkSettings
from telephony.validators import validate_address
from tenants.models import Clinic, Membership, User
from tenants.services import clinic_update, prefix_conflict

RECENT_EVENTS = 20

# --- Users ----------------------------------------------------------------------------------


def _clean_email(form: forms.ModelForm) -> str:
    """Lower-case, and refuse a case-insensitive duplicate before the DB constraint does."""
    email = (form.cleaned_data.get("email") or "").strip().lower()
    taken = User.objects.filter(email__iexact=email).exclude(pk=form.instance.pk)
    if email and taken.exists():
        raise forms.ValidationError("A user with this email address already exists.")
    return email


class UserAddForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)

    def clean_email(self) -> str:
        return _clean_email(self)


class UserEditForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"

    def clean_email(self) -> str:
        return _clean_email(self)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    """Django's UserAdmin, fitted to a model whose username is the email address."""

    form = UserEditForm
    add_form = UserAddForm
    ordering = ("email",)
    list_display = ("email", "email_verified_at", "is_staff", "is_active", "date_joined")
    list_filter = ("is_staff", "is_superuser", "is_active")
    search_fields = ("email", "first_name", "last_name")
    readonly_fields = ("last_login", "date_joined")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Name", {"fields": ("first_name", "last_name")}),
        ("Verification", {"fields": ("email_verified_at",)}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "usable_password", "password1", "password2"),
            },
        ),
    )


# --- Clinic inlines ---------------------------------------------------------------------------


class PhoneNumberInline(admin.TabularInline):
    """Read-only: adding or removing a number must go through the service (normalisation,
    platform-wide uniqueness, re-provisioning)."""

    model = PhoneNumber
    extra = 0
    fields = ("e164", "label", "created_at")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)
    fields = ("user", "role", "created_at")
    readonly_fields = ("created_at",)


class TrunkSettingsForm(forms.ModelForm):
    """The SIP password is write-only: never rendered, and left blank it keeps the stored one."""

    allowed_addresses = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The carrier's addresses, one per line: IPs, CIDR blocks or hostnames.",
    )
    auth_password = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        label="SIP auth password",
    )

    class Meta:
        model = TrunkSettings
        fields = ("allowed_addresses", "auth_username", "auth_password", "krisp_enabled")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.password_entered = False
        if self.instance.pk:
            self.initial["allowed_addresses"] = "\n".join(self.instance.allowed_addresses or [])
            self.initial["auth_password"] = ""
        stored = bool(self.instance.pk and self.instance.auth_password)
        self.fields["auth_password"].help_text = (
            "A password is stored. Leave blank to keep it; clear the username to remove it."
            if stored
            else "No password stored. Leave blank for no SIP authentication."
        )

    def clean_allowed_addresses(self) -> list[str]:
        lines = [ln.strip() for ln in self.cleaned_data["allowed_addresses"].splitlines()]
        cleaned, errors = [], []
        for line in filter(None, lines):
            try:
                cleaned.append(validate_address(line))
            except forms.ValidationError as exc:
                errors.extend(exc.messages)
        if len(cleaned) > services.MAX_ADDRESSES:
            errors.append(f"At most {services.MAX_ADDRESSES} addresses.")
        if errors:
            raise forms.ValidationError(errors)
        return sorted(set(cleaned))

    def clean_auth_password(self) -> str:
        new = self.cleaned_data.get("auth_password") or ""
        self.password_entered = bool(new)
        # Keep the stored value on the instance, so nothing can save a blank over it.
        return new or (self.instance.auth_password if self.instance.pk else "")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("auth_username", "").strip() and not data.get("auth_password"):
            self.add_error(
                "auth_password", "Set a password for the SIP username, or clear the username."
            )
        return data


class TrunkSettingsInline(admin.StackedInline):
    model = TrunkSettings
    form = TrunkSettingsForm
    extra = 0
    can_delete = False
    verbose_name_plural = "carrier (trunk) settings"


class AgentConfigInline(admin.StackedInline):
    model = AgentConfig
    extra = 0
    can_delete = False
    readonly_fields = ("version", "updated_at")


class RecentEventsFormSet(forms.BaseInlineFormSet):
    """Only the clinic's most recent events: the log is append-only and grows forever."""

    def get_queryset(self) -> QuerySet[ProvisioningEvent]:
        if not hasattr(self, "_recent"):
            qs = super().get_queryset().select_related("actor").order_by("-at")
            self._recent = qs[:RECENT_EVENTS]
            len(self._recent)  # evaluate once; the formset indexes into it
        return self._recent


class ProvisioningEventInline(admin.TabularInline):
    model = ProvisioningEvent
    formset = RecentEventsFormSet
    extra = 0
    can_delete = False
    fields = ("at", "generation", "action", "outcome", "detail", "duration_ms", "actor")
    readonly_fields = fields
    verbose_name_plural = f"recent provisioning events (last {RECENT_EVENTS})"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- Clinic -----------------------------------------------------------------------------------


class ClinicForm(forms.ModelForm):
    class Meta:
        model = Clinic
        fields = ("name", "room_prefix", "timezone")

    def clean_room_prefix(self) -> str:
        prefix = self.cleaned_data["room_prefix"]
        if prefix != self.instance.room_prefix and prefix_conflict(prefix, exclude=self.instance):
            raise forms.ValidationError(
                "This room prefix overlaps another clinic's (one may not start with the other)."
            )
        return prefix


def _number_count() -> Coalesce:
    per_clinic = (
        PhoneNumber.objects.filter(clinic=OuterRef("pk"))
        .order_by()
        .values("clinic")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(per_clinic, output_field=IntegerField()), Value(0))


@admin.register(Clinic)
class ClinicAdmin(admin.ModelAdmin):
    form = ClinicForm
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
    list_filter = ("state", "provisioning__state")
    search_fields = (
        "name",
        "slug",
        "room_prefix",
        "phone_numbers__e164",
        "provisioning__trunk_id",
        "provisioning__dispatch_rule_id",
    )
    list_select_related = ("provisioning",)
    show_full_result_count = False
    fieldsets = (
        (None, {"fields": ("id", "name", "slug", "room_prefix", "timezone", "state")}),
        (
            "Provisioning",
            {
                "fields": (
                    "provisioning_state",
                    "generations",
                    "trunk_id",
                    "rule_id",
                    "attempts",
                    "next_attempt",
                    "last_error",
                )
            },
        ),
        ("Dates", {"fields": ("created_at", "updated_at")}),
    )
    readonly_fields = (
        "id",
        "slug",
        "state",
        "provisioning_state",
        "generations",
        "trunk_id",
        "rule_id",
        "attempts",
        "next_attempt",
        "last_error",
        "created_at",
        "updated_at",
    )
    inlines = (
        PhoneNumberInline,
        MembershipInline,
        AgentConfigInline,
        TrunkSettingsInline,
        ProvisioningEventInline,
    )
    actions = ("reprovision_now", "offboard")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Clinic]:
        return (
            super()
            .get_queryset(request)
            .select_related("provisioning")
            # A subquery, not a join: a join would multiply rows with the number search.
            .annotate(number_count=_number_count())
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # clinics are created by signup or the API, with an owner

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # offboard instead: LiveKit objects must be removed first

    # --- columns ------------------------------------------------------------------------

    @admin.display(description="provisioning", ordering="provisioning__state")
    def provisioning_state(self, clinic: Clinic) -> str:
        return clinic.provisioning.get_state_display()

    @admin.display(description="numbers", ordering="number_count")
    def numbers(self, clinic: Clinic) -> int:
        count = getattr(clinic, "number_count", None)
        return count if count is not None else clinic.phone_numbers.count()

    @admin.display(description="generation (observed / wanted)")
    def generations(self, clinic: Clinic) -> str:
        p = clinic.provisioning
        return f"{p.observed_generation} / {p.generation}"

    @admin.display(description="trunk ID", ordering="provisioning__trunk_id")
    def trunk_id(self, clinic: Clinic) -> str:
        return clinic.provisioning.trunk_id

    @admin.display(description="rule ID", ordering="provisioning__dispatch_rule_id")
    def rule_id(self, clinic: Clinic) -> str:
        return clinic.provisioning.dispatch_rule_id

    @admin.display(description="attempts", ordering="provisioning__attempts")
    def attempts(self, clinic: Clinic) -> int:
        return clinic.provisioning.attempts

    @admin.display(description="next attempt", ordering="provisioning__next_attempt_at")
    def next_attempt(self, clinic: Clinic) -> Any:
        return clinic.provisioning.next_attempt_at

    @admin.display(description="last error")
    def last_error(self, clinic: Clinic) -> str:
        return clinic.provisioning.last_error[:200]

    # --- writes through the services ----------------------------------------------------

    def save_model(self, request: HttpRequest, obj: Clinic, form: Any, change: bool) -> None:
        data = form.cleaned_data
        # The form has already copied its values onto `obj`; the service must see the
        # stored clinic to notice a changed room prefix (and re-provision for it).
        clinic_update(
            clinic=Clinic.objects.get(pk=obj.pk),
            name=data["name"],
            timezone_name=data["timezone"],
            room_prefix=data["room_prefix"],
        )

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        clinic: Clinic = form.instance
        if formset.model not in (TrunkSettings, AgentConfig):
            formset.save()
            return
        # One-to-one settings: the service writes them (validation, version, generation).
        # The admin's change message reads what formset.save() would have recorded.
        formset.new_objects, formset.deleted_objects, formset.changed_objects = [], [], []
        for f in formset.forms:
            if not f.has_changed():
                continue
            if formset.model is TrunkSettings:
                self._save_trunk_settings(clinic, f)
            else:
                changes = {
                    k: f.cleaned_data[k] for k in f.changed_data if k in services.AGENT_FIELDS
                }
                services.agent_config_update(clinic=clinic, **changes)
            formset.changed_objects.append((f.instance, f.changed_data))

    @staticmethod
    def _save_trunk_settings(clinic: Clinic, f: TrunkSettingsForm) -> None:
        data = f.cleaned_data
        services.trunk_settings_update(
            clinic=clinic,
            allowed_addresses=data["allowed_addresses"],
            auth_username=data["auth_username"],
            auth_password=data["auth_password"] if f.password_entered else None,
            krisp_enabled=data["krisp_enabled"],
        )

    # --- actions ------------------------------------------------------------------------

    @admin.action(description="Re-provision now (reconcile and verify LiveKit's objects)")
    def reprovision_now(self, request: HttpRequest, queryset: QuerySet[Clinic]) -> None:
        done, skipped = 0, 0
        for clinic in queryset:
            if clinic.state == Clinic.State.DRAFT:
                skipped += 1  # nothing is provisioned before go-live
                continue
            services.provisioning_reprovision(clinic=clinic, actor=request.user)  # type: ignore[arg-type]
            done += 1
        self.message_user(request, f"Re-provisioning {done} clinic(s).", messages.SUCCESS)
        if skipped:
            self.message_user(
                request, f"Skipped {skipped} draft clinic(s): they are not live.", messages.WARNING
            )

    @admin.action(description="Offboard (delete LiveKit objects, release numbers)")
    def offboard(self, request: HttpRequest, queryset: QuerySet[Clinic]) -> HttpResponse | None:
        targets = list(queryset.exclude(state=Clinic.State.OFFBOARDED))
        if request.POST.get("confirm") != "yes":
            return TemplateResponse(
                request,
                "admin/tenants/clinic/offboard_confirmation.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "Offboard clinics?",
                    "opts": self.model._meta,
                    "clinics": targets,
                    "action_checkbox_name": ACTION_CHECKBOX_NAME,
                },
            )
        for clinic in targets:
            services.clinic_offboard(clinic=clinic, actor=request.user)  # type: ignore[arg-type]
        self.message_user(request, f"Offboarding {len(targets)} clinic(s).", messages.SUCCESS)
        return None


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "clinic", "role", "created_at")
    list_filter = ("role",)
    search_fields = ("user__email", "clinic__name", "clinic__slug")
    list_select_related = ("user", "clinic")
    autocomplete_fields = ("user", "clinic")
