"""A caller's erasure request from the clinic page, and the page's recent calls panel."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from tenants.admin.console import clinic_or_404
from tenants.models import Clinic

logger = logging.getLogger(__name__)


class ErasureMixin(admin.ModelAdmin):
    """The clinic admin's calls panel and erasure page (mixed into ClinicAdmin)."""

    def recent_calls(self, clinic: Clinic) -> list[Any] | None:
        """The clinic's latest calls for the change page's "Calls" panel."""
        from telephony.models import Call

        return list(Call.objects.for_clinic(clinic).order_by("-created_at")[:20])

    def has_erase_caller_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("telephony.delete_call")

    def erase_caller_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """A caller's erasure request: every call, outcome, transcript and webhook event of
        one number in this clinic (telephony.outcomes.erase_caller)."""
        from telephony.outcomes import erase_caller
        from telephony.validators import normalize_e164

        if not self.has_erase_caller_permission(request):
            raise PermissionDenied
        clinic = clinic_or_404(self, request, object_id)
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
                    f"Erased {erased.calls} call(s), {erased.outcomes} outcome(s), "
                    f"{erased.messages} message(s) and "
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
