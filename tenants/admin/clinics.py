"""The clinic list and change page: what staff see, and saving through the services.

The dry run and the actions are in tenants.admin.console, the erasure page in
tenants.admin.erasure; ClinicAdmin mixes them in and routes their URLs.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils.text import smart_split, unescape_string_literal

from telephony import services
from telephony.models import (
    DEFAULT_PROJECT,
    PhoneNumber,
    Provisioning,
    Receptionist,
    TrunkSettings,
)
from telephony.projects import pin
from tenants.admin.console import ConsoleMixin
from tenants.admin.erasure import ErasureMixin
from tenants.admin.filters import (
    DriftFilter,
    EstimatedCountPaginator,
    FailedSinceFilter,
    ProvisioningStateFilter,
)
from tenants.admin.forms import ClinicAdminForm
from tenants.admin.inlines import (
    EventInline,
    MembershipInline,
    PhoneNumberInline,
    ReceptionistInline,
    TrunkSettingsInline,
    save_number_assignments,
    save_receptionists,
)
from tenants.models import Clinic


@admin.register(Clinic)
class ClinicAdmin(ConsoleMixin, ErasureMixin, admin.ModelAdmin):
    list_display = (
        "name",
        "slug",
        "state",
        "project",
        "provisioning_state",
        "numbers",
        "trunk_id",
        "rule_id",
        "attempts",
        "next_attempt",
        "last_synced",
        "last_error",
    )
    list_filter = (
        "state",
        ProvisioningStateFilter,
        FailedSinceFilter,
        DriftFilter,
    )
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
    fields = (
        "id",
        "name",
        "slug",
        "room_prefix",
        "timezone",
        "state",
        "livekit_project",
        "may_bring_livekit_project",
        "created_at",
        "updated_at",
    )
    form = ClinicAdminForm
    inlines = (
        PhoneNumberInline,
        MembershipInline,
        TrunkSettingsInline,
        ReceptionistInline,
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
    list_select_related = ("provisioning", "livekit_project")
    list_per_page = 100
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    change_form_template = "admin/tenants/clinic/change_form.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # clinics are created by signup / the API (clinic_create), not here

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Deleting the row would leave the clinic's LiveKit and carrier objects behind, with
        nothing left to name them: only a clinic that never went live, or one offboarded and
        cleaned up, can be deleted. Everything else goes through Offboard first."""
        if not super().has_delete_permission(request, obj):
            return False
        return obj is None or nothing_upstream(obj)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # it would skip the per-clinic check above
        return actions

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
            .select_related("provisioning", "livekit_project")
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

    @admin.display(description="LiveKit project", ordering="livekit_project__name")
    def project(self, clinic: Clinic) -> str:
        return clinic.livekit_project.name if clinic.livekit_project else DEFAULT_PROJECT

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

    def save_model(self, request: HttpRequest, obj: Clinic, form: Any, change: bool) -> None:
        """A new project is a pin (telephony.projects.pin: audited, refused once LiveKit
        holds something of the clinic's); the other fields save as usual."""
        wanted = obj.livekit_project if "livekit_project" in form.changed_data else None
        if wanted is not None:
            obj.livekit_project_id = form.initial.get("livekit_project")
        super().save_model(request, obj, form, change)
        if wanted is not None:
            try:
                pin(obj, wanted, actor=request.user)
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), level=messages.ERROR)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        clinic = form.instance
        if formset.model in (TrunkSettings, Receptionist, PhoneNumber):
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
        if formset.model is Receptionist:
            save_receptionists(clinic, formset)
            return
        if formset.model is PhoneNumber:
            save_number_assignments(clinic, formset)
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


def nothing_upstream(clinic: Clinic) -> bool:
    """The clinic holds no object at LiveKit or its carrier: never provisioned, or offboarded
    and deprovisioned."""
    try:
        state = clinic.provisioning.state
    except Provisioning.DoesNotExist:
        state = Provisioning.State.NEW
    if clinic.state == Clinic.State.DRAFT:
        return state == Provisioning.State.NEW
    return clinic.state == Clinic.State.OFFBOARDED and state == Provisioning.State.DEPROVISIONED
