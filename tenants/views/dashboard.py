"""The clinic dashboard, its JSON status (polled while provisioning runs), retry, offboard."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from telephony.move_status import clinic_confirms_carrier, move_status
from telephony.number_releases import releasable, release_bought_on_offboarding
from telephony.selectors import go_live_checklist, recent_calls
from telephony.services import clinic_offboard, provisioning_retry
from tenants.access import MANAGE, get_clinic_for_user
from tenants.forms import OffboardForm
from tenants.selectors import (
    clinic_overview,
    provisioning_status,
    provisioning_steps,
    setup_progress,
)
from tenants.views.common import clinic_for_request, current_user


@login_required
@require_GET
def dashboard(request: HttpRequest, slug: str) -> HttpResponse:
    clinic, membership = clinic_for_request(request, slug)
    overview = clinic_overview(clinic=clinic)
    context = {
        "clinic": clinic,
        "membership": membership,
        "can_edit": membership.can_edit,
        "can_manage": membership.can_manage,
        "overview": overview,
        "steps": setup_progress(overview=overview),
        "checklist": go_live_checklist(
            clinic=clinic,
            numbers=overview.numbers,
            trunk_settings=overview.trunk_settings,
            agent_config=overview.agent_config,
            provisioning=overview.provisioning,
            carrier=overview.carrier,
        ),
        "calls": recent_calls(clinic=clinic),
        "prov_steps": provisioning_steps(overview.provisioning, overview.carrier),
        "move": move_status(clinic),
    }
    return render(request, "tenants/dashboard.html", context)


@never_cache
@login_required
@require_GET
def status_json(request: HttpRequest, slug: str) -> JsonResponse:
    clinic, _ = clinic_for_request(request, slug)
    return JsonResponse(provisioning_status(clinic=clinic))


@login_required
@require_POST
def retry(request: HttpRequest, slug: str) -> HttpResponse:
    clinic, _ = clinic_for_request(request, slug)
    provisioning_retry(clinic=clinic, actor=current_user(request))
    messages.success(request, "Trying again now. This page updates as it happens.")
    return redirect("tenants:dashboard", slug=clinic.slug)


@login_required
@require_POST
def move_confirm(request: HttpRequest, slug: str) -> HttpResponse:
    """The clinic's carrier sends calls to the new address of a move (decision 0131)."""
    clinic, _ = clinic_for_request(request, slug)
    try:
        clinic_confirms_carrier(clinic=clinic, actor=current_user(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            "Thanks. We are making a last test call at the new address, then removing the old one.",
        )
    return redirect(reverse("tenants:dashboard", kwargs={"slug": clinic.slug}) + "#move-card")


@login_required
@require_http_methods(["GET", "POST"])
def offboard(request: HttpRequest, slug: str) -> HttpResponse:
    """Owner only, for looking at the confirmation page too: it is a destructive flow."""
    clinic, membership = get_clinic_for_user(request.user, slug, need=MANAGE)
    bought = list(releasable(clinic))
    form = OffboardForm(
        request.POST if request.method == "POST" else None,
        clinic_name=clinic.name,
        bought=bool(bought),
    )
    if request.method == "POST" and form.is_valid():
        clinic_offboard(clinic=clinic, actor=current_user(request))
        words = f"{clinic.name} has been offboarded. Its phone line is being removed."
        if form.cleaned_data.get("release_bought"):
            released = release_bought_on_offboarding(clinic=clinic, actor=current_user(request))
            words += f" {len(released)} number(s) Switchboard bought are being released."
        elif bought:
            words += " The numbers Switchboard bought stay in your carrier account."
        messages.success(request, words)
        return redirect("tenants:home")
    context = {"clinic": clinic, "membership": membership, "form": form, "bought": bought}
    return render(request, "tenants/offboard.html", context, status=400 if form.errors else 200)
