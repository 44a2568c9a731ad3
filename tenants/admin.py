"""Staff admin: users, clinics with their provisioning state, memberships.

The clinic pages are the staff console (docs/operations.md): a list that stays cheap at
10,000 clinics, a change page with LiveKit's objects next to what the database wants, and
actions that go through the same services as the web app and record the acting staff user.
Mutating actions need `tenants.run_provisioning_actions` (group "operator"); the dry-run
plan needs `tenants.view_provisioning_plan` (groups "support" and "operator").
"""

from __future__ import annotations

import logging
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.text import smart_split, unescape_string_literal

from telephony import services
from telephony.models import AgentConfig, PhoneNumber, ProvisioningEvent, TrunkSettings
from telephony.validators import validate_address
from tenants.admin_console import (
    ACTIONS,
    BULK_LIMIT,
    BULK_PLAN_LIMIT,
    DriftFilter,
    EstimatedCountPaginator,
    FailedSinceFilter,
    ProvisioningStateFilter,
)
from tenants.models import Clinic, Membership, User

logger = logging.getLogger(__name__)


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
        "last_synced",
        "last_error",
    )
    list_filter = ("state", ProvisioningStateFilter, FailedSinceFilter, DriftFilter)
    search_fields = (
        "name",
        "slug",
        "room_prefix",
        "phone_numbers__e164",
        "provisioning__trunk_id",
        "provisioning__dispatch_rule_id",
    )
    search_help_text = "Name, slug, room prefix, phone number, trunk ID or rule ID."
    # slug and room_prefix name LiveKit's objects and rooms: changing them is not an edit.
    readonly_fields = ("id", "slug", "room_prefix", "state", "created_at", "updated_at")
    fields = ("id", "name", "slug", "room_prefix", "timezone", "state", "created_at", "updated_at")
    inlines = (
        PhoneNumberInline,
        MembershipInline,
        TrunkSettingsInline,
        AgentConfigInline,
        EventInline,
    )
    actions = (
        "dry_run_plan",
        "reprovision_now",
        "retry_failed",
        "suspend",
        "resume",
        "offboard",
    )
    list_select_related = ("provisioning",)
    list_per_page = 100
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    change_form_template = "admin/tenants/clinic/change_form.html"

    # --- permissions ----------------------------------------------------------------------

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # clinics are created by signup / the API (clinic_create), not here

    def has_run_provisioning_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("tenants.run_provisioning_actions")

    def has_dry_run_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("tenants.view_provisioning_plan")

    # --- the list -------------------------------------------------------------------------

    def get_queryset(self, request: HttpRequest) -> QuerySet[Clinic]:
        # A correlated subquery, not Count() over a join: no GROUP BY over every clinic,
        # and PostgreSQL evaluates it for the rows of the page only.
        numbers = (
            PhoneNumber.objects.filter(clinic=OuterRef("pk"))
            .order_by()
            .values("clinic")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return (
            super()
            .get_queryset(request)
            .select_related("provisioning")
            .annotate(number_count=Coalesce(Subquery(numbers), 0))
        )

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Clinic], search_term: str
    ) -> tuple[QuerySet[Clinic], bool]:
        """Numbers are matched with EXISTS, so a clinic is one row however many match.

        Django's own search joins phone numbers and then de-duplicates with SELECT DISTINCT
        over every column, which sorts every joined row (and computes the number count for
        each) before the page is cut: ~150 ms per query at 10,000 clinics, instead of a few.
        """
        for term in smart_split(search_term):
            if term[:1] in ("'", '"') and len(term) > 1 and term[0] == term[-1]:
                term = unescape_string_literal(term)
            numbers = PhoneNumber.objects.filter(clinic=OuterRef("pk"), e164__contains=term)
            queryset = queryset.filter(
                Q(name__icontains=term)
                | Q(slug__icontains=term)
                | Q(room_prefix__icontains=term)
                | Q(provisioning__trunk_id__icontains=term)
                | Q(provisioning__dispatch_rule_id__icontains=term)
                | Q(Exists(numbers))
            )
        return queryset, False

    @admin.display(description="provisioning", ordering="provisioning__state")
    def provisioning_state(self, clinic: Clinic) -> str:
        return clinic.provisioning.get_state_display()

    @admin.display(description="numbers", ordering="number_count")
    def numbers(self, clinic: Clinic) -> int:
        return clinic.number_count  # type: ignore[attr-defined]

    @admin.display(description="trunk")
    def trunk_id(self, clinic: Clinic) -> str:
        return clinic.provisioning.trunk_id

    @admin.display(description="rule")
    def rule_id(self, clinic: Clinic) -> str:
        return clinic.provisioning.dispatch_rule_id

    @admin.display(description="attempts", ordering="provisioning__attempts")
    def attempts(self, clinic: Clinic) -> int:
        return clinic.provisioning.attempts

    @admin.display(description="next attempt", ordering="provisioning__next_attempt_at")
    def next_attempt(self, clinic: Clinic) -> Any:
        return clinic.provisioning.next_attempt_at

    @admin.display(description="last synced", ordering="provisioning__last_synced_at")
    def last_synced(self, clinic: Clinic) -> Any:
        return clinic.provisioning.last_synced_at

    @admin.display(description="last error")
    def last_error(self, clinic: Clinic) -> str:
        return clinic.provisioning.last_error[:120]

    # --- saving: LiveKit-relevant settings go through the services -------------------------

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        clinic = form.instance
        if formset.model in (TrunkSettings, AgentConfig):
            # What formset.save() would have set, for the admin's change message.
            formset.new_objects, formset.deleted_objects = [], []
            formset.changed_objects = [
                (f.instance, f.changed_data) for f in formset.forms if f.has_changed()
            ]
        if formset.model is TrunkSettings:
            for f in formset.forms:
                if f.has_changed():
                    data = f.cleaned_data
                    services.trunk_settings_update(
                        clinic=clinic,
                        allowed_addresses=data.get("allowed_addresses") or [],
                        auth_username=data.get("auth_username") or "",
                        auth_password=data.get("auth_password") or None,
                        krisp_enabled=bool(data.get("krisp_enabled")),
                    )
            return
        if formset.model is AgentConfig:
            for f in formset.forms:
                if f.has_changed():
                    changes = {
                        k: f.cleaned_data[k] for k in f.changed_data if k in services.AGENT_FIELDS
                    }
                    services.agent_config_update(clinic=clinic, **changes)
            return
        super().save_formset(request, form, formset, change)

    # --- the change page ------------------------------------------------------------------

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra = dict(extra_context or {})
        clinic = self.get_object(request, object_id)
        if clinic is not None and request.method == "GET":
            from telephony.console import compare_clinic

            extra["livekit"] = compare_clinic(clinic)
            extra["console_actions"] = self._actions_for(request, clinic)
            extra["can_dry_run"] = self.has_dry_run_permission(request)
            extra["recent_calls"] = self.recent_calls(clinic)
            extra["can_erase_caller"] = self.has_erase_caller_permission(request)
        return super().change_view(request, object_id, form_url, extra)

    def recent_calls(self, clinic: Clinic) -> list[Any] | None:
        """The clinic's latest calls for the change page's "Calls" panel."""
        from telephony.models import Call

        return list(Call.objects.for_clinic(clinic).order_by("-created_at")[:20])

    def _actions_for(self, request: HttpRequest, clinic: Clinic) -> list[dict[str, str]]:
        if not self.has_run_provisioning_permission(request):
            return []
        eligible = {
            name
            for name, action in ACTIONS.items()
            if Clinic.objects.filter(action.eligible, pk=clinic.pk).exists()
        }
        return [
            {
                "label": ACTIONS[name].label,
                "url": reverse("admin:tenants_clinic_console_action", args=[clinic.pk, name]),
            }
            for name in ACTIONS
            if name in eligible
        ]

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/plan/",
                wrap(self.plan_view),
                name="tenants_clinic_plan",
            ),
            path(
                "<path:object_id>/console/<slug:action>/",
                wrap(self.action_view),
                name="tenants_clinic_console_action",
            ),
            path(
                "<path:object_id>/erase-caller/",
                wrap(self.erase_caller_view),
                name="tenants_clinic_erase_caller",
            ),
            *super().get_urls(),
        ]

    def has_erase_caller_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("telephony.delete_call")

    def erase_caller_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """A caller's erasure request: every call, outcome, transcript and webhook event of
        one number in this clinic (telephony.outcomes.erase_caller)."""
        from telephony.outcomes import erase_caller
        from telephony.validators import normalize_e164

        if not self.has_erase_caller_permission(request):
            raise PermissionDenied
        clinic = self._clinic_or_404(request, object_id)
        raw = request.POST.get("number", "") if request.method == "POST" else ""
        error = ""
        if request.method == "POST":
            try:
                number = normalize_e164(raw)
            except ValidationError as exc:
                error = f"Number: {' '.join(exc.messages)}"
            else:
                erased = erase_caller(clinic=clinic, number=number)
                logger.info("caller erasure in clinic %s by %s", clinic.pk, request.user)
                self.message_user(
                    request,
                    f"Erased {erased.calls} call(s), {erased.outcomes} outcome(s) and "
                    f"{erased.events} webhook event(s) for that number.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse("admin:tenants_clinic_change", args=[clinic.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Erase a caller's data from {clinic.name}",
            "opts": self.model._meta,
            "clinic": clinic,
            "number": raw,
            "error": error,
        }
        status = 400 if error else 200
        return TemplateResponse(
            request, "admin/tenants/clinic/erase_caller.html", context, status=status
        )

    def plan_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The dry run for one clinic: read-only, writes nothing anywhere."""
        if not self.has_dry_run_permission(request):
            raise PermissionDenied
        return self._render_plans(request, [self._clinic_or_404(request, object_id)])

    def _clinic_or_404(self, request: HttpRequest, object_id: str) -> Clinic:
        clinic = self.get_object(request, object_id)  # a malformed UUID is None, not a 500
        if clinic is None:
            raise Http404("No such clinic.")
        return clinic

    def _render_plans(self, request: HttpRequest, clinics: list[Clinic]) -> HttpResponse:
        from telephony.console import console_gateway
        from telephony.provisioning.plan import plan_clinic

        gateway = None
        plans = []
        for clinic in clinics:
            try:
                gateway = gateway or console_gateway()
                plans.append((clinic, plan_clinic(clinic.pk, gateway)))
            except Exception as exc:  # the page renders whatever LiveKit does
                logger.exception("dry-run plan for clinic %s failed", clinic.pk)
                plans.append((clinic, _failed_plan(clinic, exc)))
        logger.info(
            "dry-run plan for %d clinic(s) by %s: %s",
            len(clinics),
            request.user,
            ", ".join(c.slug for c in clinics),
        )
        context = {
            **self.admin_site.each_context(request),
            "title": "Dry-run plan"
            if len(clinics) == 1
            else f"Dry-run plan ({len(clinics)} clinics)",
            "opts": self.model._meta,
            "plans": plans,
        }
        return TemplateResponse(request, "admin/tenants/clinic/plan.html", context)

    def action_view(self, request: HttpRequest, object_id: str, action: str) -> HttpResponse:
        """One clinic, one action: a confirmation page (GET), then the service (POST)."""
        if action not in ACTIONS:
            raise PermissionDenied
        if not self.has_run_provisioning_permission(request):
            raise PermissionDenied
        clinic = self._clinic_or_404(request, object_id)
        change_url = reverse("admin:tenants_clinic_change", args=[clinic.pk])
        queryset = Clinic.objects.filter(pk=clinic.pk)
        if request.method == "POST":
            self._execute(request, queryset, action)
            return HttpResponseRedirect(change_url)
        return self._confirm(request, queryset, action, single=True)

    # --- actions (bulk) -------------------------------------------------------------------

    @admin.action(description="Dry-run plan (read-only)", permissions=["dry_run"])
    def dry_run_plan(self, request: HttpRequest, queryset: QuerySet[Clinic]) -> Any:
        clinics = list(queryset.order_by("name")[: BULK_PLAN_LIMIT + 1])
        if len(clinics) > BULK_PLAN_LIMIT:
            self.message_user(
                request,
                f"Select at most {BULK_PLAN_LIMIT} clinics for a dry run (each one reads LiveKit).",
                messages.WARNING,
            )
            return None
        return self._render_plans(request, clinics)

    @admin.action(
        description="Re-provision now (verify LiveKit's objects)", permissions=["run_provisioning"]
    )
    def reprovision_now(self, request: HttpRequest, queryset: QuerySet[Clinic]) -> Any:
        return self._bulk(request, queryset, "reprovision")

    @admin.action(description="Retry failed provisioning", permissions=["run_provisioning"])
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[Clinic]) -> Any:
        return self._bulk(request, queryset, "retry")

    @admin.action(description="Suspend (calls stop, data kept)", permissions=["run_provisioning"])
    def suspend(self, request: HttpRequest, queryset: QuerySet[Clinic]) -> Any:
        return self._bulk(request, queryset, "suspend")

    @admin.action(description="Resume suspended clinics", permissions=["run_provisioning"])
    def resume(self, request: HttpRequest, queryset: QuerySet[Clinic]) -> Any:
        return self._bulk(request, queryset, "resume")

    @admin.action(
        description="Offboard (delete LiveKit objects, release numbers)",
        permissions=["run_provisioning"],
    )
    def offboard(self, request: HttpRequest, queryset: QuerySet[Clinic]) -> Any:
        return self._bulk(request, queryset, "offboard")

    def _bulk(self, request: HttpRequest, queryset: QuerySet[Clinic], action: str) -> Any:
        """Django's intermediate-page pattern: confirm first, act on the second POST."""
        if not self.has_run_provisioning_permission(request):
            raise PermissionDenied
        if queryset.count() > BULK_LIMIT:
            self.message_user(
                request,
                f"Select at most {BULK_LIMIT} clinics per bulk action (filter the list first).",
                messages.WARNING,
            )
            return None
        if request.POST.get("post") == "yes":
            self._execute(request, queryset, action)
            return None
        return self._confirm(request, queryset, action, single=False)

    def _confirm(
        self, request: HttpRequest, queryset: QuerySet[Clinic], action: str, *, single: bool
    ) -> HttpResponse:
        spec = ACTIONS[action]
        eligible = list(
            queryset.filter(spec.eligible).select_related("provisioning").order_by("name")
        )
        skipped = list(queryset.exclude(spec.eligible).order_by("name"))
        context = {
            **self.admin_site.each_context(request),
            "title": f"{spec.label}: are you sure?",
            "opts": self.model._meta,
            "spec": spec,
            "action_name": self._action_function(action),
            "eligible": eligible,
            "skipped": skipped,
            "single": single,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/tenants/clinic/console_confirm.html", context)

    @staticmethod
    def _action_function(action: str) -> str:
        return {
            "reprovision": "reprovision_now",
            "retry": "retry_failed",
            "suspend": "suspend",
            "resume": "resume",
            "offboard": "offboard",
        }[action]

    def _execute(self, request: HttpRequest, queryset: QuerySet[Clinic], action: str) -> None:
        spec = ACTIONS[action]
        user = request.user
        assert isinstance(user, User)
        done, refused = 0, []
        # Eligibility is checked again now: the clinic may have changed since the page.
        targets = list(queryset.filter(spec.eligible).order_by("name"))
        skipped = queryset.count() - len(targets)
        for clinic in targets:
            try:
                spec.run(clinic, user)
            except services.ProvisioningError as exc:
                refused.append(f"{clinic.name}: {exc.message}")
                continue
            done += 1
        logger.info("console %s by %s: %d done, %d skipped", action, user, done, skipped)
        self.message_user(request, f"{spec.label}: {done} clinic(s).", messages.SUCCESS)
        if skipped:
            self.message_user(
                request,
                f"{skipped} clinic(s) skipped: the action does not apply to them.",
                messages.WARNING,
            )
        for sentence in refused:
            self.message_user(request, sentence, messages.ERROR)


def _failed_plan(clinic: Clinic, exc: Exception) -> Any:
    from telephony.provisioning.plan import Plan

    return Plan(
        str(clinic.pk), 0, (), error=f"The plan could not be computed ({type(exc).__name__})."
    )


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "clinic", "role", "created_at")
    list_filter = ("role",)
    search_fields = ("user__email", "clinic__name", "clinic__slug")
    list_select_related = ("user", "clinic")
    autocomplete_fields = ("user", "clinic")
