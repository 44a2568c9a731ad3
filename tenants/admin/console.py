"""The staff console's pages: the dry-run plan and the actions' confirm-then-run pages.

Every mutating action is confirmed on a page first and then runs through the service named in
tenants.admin.actions, with the acting staff user recorded. The bulk actions use Django's
intermediate-page pattern; the change page links to the single-clinic versions.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from telephony import services
from tenants.admin.actions import ACTIONS, BULK_LIMIT, BULK_PLAN_LIMIT
from tenants.models import Clinic, User

logger = logging.getLogger(__name__)


def clinic_or_404(model_admin: admin.ModelAdmin, request: HttpRequest, object_id: str) -> Clinic:
    clinic = model_admin.get_object(request, object_id)  # a malformed UUID is None, not a 500
    if clinic is None:
        raise Http404("No such clinic.")
    return clinic


class ConsoleMixin(admin.ModelAdmin):
    """The clinic admin's dry run and actions (mixed into ClinicAdmin)."""

    def has_run_provisioning_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("tenants.run_provisioning_actions")

    def has_dry_run_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("tenants.view_provisioning_plan")

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

    def plan_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The dry run for one clinic: read-only, writes nothing anywhere."""
        if not self.has_dry_run_permission(request):
            raise PermissionDenied
        return self._render_plans(request, [clinic_or_404(self, request, object_id)])

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
        clinic = clinic_or_404(self, request, object_id)
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
