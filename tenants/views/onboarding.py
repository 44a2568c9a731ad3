"""The guided setup, /clinics/<slug>/setup/<step>/, and the settings after go-live,
/clinics/<slug>/settings/<section>/: one small view per step, shared by both.

Which of the two a clinic gets follows its state: a draft clinic is set up step by step
(each save goes on to the next step); a clinic that has gone live has settings (each save
returns to the dashboard, and the wizard's URLs redirect to the settings). Services
re-provision a live clinic after every change. Viewers may look at every step; only
owners and admins may POST (403 otherwise).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from telephony.presets import AGENT_PRESETS, PRESETS_BY_KEY
from telephony.services import (
    ProvisioningError,
    agent_config_update,
    clinic_go_live,
    go_live_blockers,
    phone_number_add,
    phone_number_remove,
    trunk_settings_update,
)
from telephony.validators import display_number
from tenants.forms import (
    AgentSettingsForm,
    CarrierSettingsForm,
    ClinicDetailsForm,
    PhoneNumberAddForm,
    PhoneNumberRemoveForm,
    add_service_errors,
)
from tenants.models import Clinic, Membership
from tenants.selectors import SETUP_STEPS, STEP_SLUGS, clinic_overview, setup_progress
from tenants.services import clinic_update
from tenants.timezones import clinic_region
from tenants.views.carrier import carrier_context, carrier_post
from tenants.views.common import clinic_for_request, current_user, settings_context

StepView = Callable[[HttpRequest, Clinic, Membership], HttpResponse]


def _bound(request: HttpRequest) -> Any:
    return request.POST if request.method == "POST" else None


def _wizard(clinic: Clinic) -> bool:
    """The step-by-step setup is for a clinic's first setup only."""
    return clinic.state == Clinic.State.DRAFT


def _render_step(
    request: HttpRequest,
    clinic: Clinic,
    membership: Membership,
    step: str,
    context: dict[str, Any],
    *,
    status: int | None = None,
) -> HttpResponse:
    overview = clinic_overview(clinic=clinic)
    index = STEP_SLUGS.index(step)
    has_errors = any(getattr(v, "errors", None) for v in context.values()) or context.get(
        "page_error"
    )
    steps = setup_progress(overview=overview)
    wizard = _wizard(clinic)
    context = {
        "wizard": wizard,
        "base_template": "tenants/setup/base.html" if wizard else "tenants/settings/base.html",
        "save_label": "Save and continue" if wizard else "Save",
        **settings_context(clinic, membership, step, SETUP_STEPS[index][1]),
        "overview": overview,
        "steps": steps,
        "steps_done": sum(s.status == "done" for s in steps),
        "step_number": index + 1,
        "step_count": len(SETUP_STEPS),
        "prev_step": STEP_SLUGS[index - 1] if index else None,
        "next_step": STEP_SLUGS[index + 1] if index + 1 < len(STEP_SLUGS) else None,
        **context,
    }
    if status is None:
        status = 400 if has_errors else 200
    return render(request, f"tenants/setup/{step}.html", context, status=status)


def _saved(request: HttpRequest, clinic: Clinic, step: str, sentence: str) -> HttpResponse:
    """After a save: the next setup step, or (after go-live) back to the dashboard."""
    live = clinic.state == Clinic.State.LIVE
    messages.success(request, sentence + (" Your phone line is being updated." if live else ""))
    if not _wizard(clinic):
        return redirect("tenants:dashboard", slug=clinic.slug)
    if step == "numbers":  # add another, or continue
        return redirect("tenants:setup", slug=clinic.slug, step="numbers")
    index = STEP_SLUGS.index(step)
    return redirect("tenants:setup", slug=clinic.slug, step=STEP_SLUGS[index + 1])


def _details(request: HttpRequest, clinic: Clinic, membership: Membership) -> HttpResponse:
    initial = {"name": clinic.name, "timezone": clinic.timezone}
    form = ClinicDetailsForm(_bound(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            clinic_update(
                clinic=clinic,
                name=form.cleaned_data["name"],
                timezone_name=form.cleaned_data["timezone"],
            )
        except ValidationError as exc:
            clinic.refresh_from_db()  # the service may have touched the instance
            add_service_errors(form, exc, {"timezone_name": "timezone"})
        else:
            return _saved(request, clinic, "details", "Clinic details saved.")
    return _render_step(request, clinic, membership, "details", {"form": form})


def _numbers(request: HttpRequest, clinic: Clinic, membership: Membership) -> HttpResponse:
    form = PhoneNumberAddForm(_bound(request), region=clinic_region(clinic))
    if request.method == "POST" and form.is_valid():
        try:
            phone = phone_number_add(
                clinic=clinic, number=form.cleaned_data["e164"], label=form.cleaned_data["label"]
            )
        except ValidationError as exc:
            add_service_errors(form, exc, {"number": "e164"})
        else:
            return _saved(request, clinic, "numbers", f"{display_number(phone.e164)} added.")
    return _render_step(request, clinic, membership, "numbers", {"form": form})


def _carrier(request: HttpRequest, clinic: Clinic, membership: Membership) -> HttpResponse:
    bound: dict[str, Any] = {}
    if request.method == "POST" and "carrier_action" in request.POST:
        handled = carrier_post(request, clinic, membership)
        if isinstance(handled, HttpResponse):
            return handled
        bound = handled
    ts = clinic_overview(clinic=clinic).trunk_settings
    initial = {
        "allowed_addresses": "\n".join(ts.allowed_addresses),
        "auth_username": ts.auth_username,
        "krisp_enabled": ts.krisp_enabled,
    }
    form = CarrierSettingsForm(
        None if bound else _bound(request), initial=initial, password_set=bool(ts.auth_password)
    )
    if request.method == "POST" and not bound and form.is_valid():
        data = form.cleaned_data
        try:
            trunk_settings_update(
                clinic=clinic,
                allowed_addresses=data["allowed_addresses"],
                auth_username=data["auth_username"],
                auth_password=data["auth_password"] or None,  # blank keeps the stored one
                krisp_enabled=data["krisp_enabled"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            return _saved(request, clinic, "carrier", "Carrier settings saved.")
    context = {"form": form, **carrier_context(clinic, membership, bound)}
    status = 400 if bound else None
    return _render_step(request, clinic, membership, "carrier", context, status=status)


def _agent(request: HttpRequest, clinic: Clinic, membership: Membership) -> HttpResponse:
    config = clinic_overview(clinic=clinic).agent_config
    initial = {name: getattr(config, name) for name in AgentSettingsForm.base_fields}
    # ?preset=<key> pre-fills the form (a GET: nothing is saved until the form is posted).
    preset = PRESETS_BY_KEY.get(request.GET.get("preset", "")) if request.method == "GET" else None
    if preset is not None:
        initial.update(preset.values(clinic.name))
    form = AgentSettingsForm(_bound(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            agent_config_update(clinic=clinic, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            return _saved(request, clinic, "agent", "Receptionist settings saved.")
    context = {"form": form, "presets": AGENT_PRESETS, "preset": preset}
    return _render_step(request, clinic, membership, "agent", context)


def _review(request: HttpRequest, clinic: Clinic, membership: Membership) -> HttpResponse:
    if request.method == "POST":  # going live has its own URL
        return redirect("tenants:setup", slug=clinic.slug, step="review")
    return _render_review(request, clinic, membership)


def _render_review(
    request: HttpRequest, clinic: Clinic, membership: Membership, page_error: str = ""
) -> HttpResponse:
    context = {
        "blockers": go_live_blockers(clinic, current_user(request)),
        "page_error": page_error,
    }
    return _render_step(request, clinic, membership, "review", context)


STEP_VIEWS: dict[str, StepView] = {
    "details": _details,
    "numbers": _numbers,
    "carrier": _carrier,
    "agent": _agent,
    "review": _review,
}


@login_required
@require_http_methods(["GET"])
def setup_start(request: HttpRequest, slug: str) -> HttpResponse:
    """Continue where the clinic left off: the first step still to do."""
    clinic, _ = clinic_for_request(request, slug)
    steps = setup_progress(overview=clinic_overview(clinic=clinic))
    first = next((s.slug for s in steps if s.status == "todo"), "review")
    return redirect("tenants:setup", slug=clinic.slug, step=first)


@login_required
@require_http_methods(["GET", "POST"])
def setup_step(request: HttpRequest, slug: str, step: str) -> HttpResponse:
    view = STEP_VIEWS.get(step)
    if view is None:
        raise Http404("No such setup step.")
    clinic, membership = clinic_for_request(request, slug)
    if not _wizard(clinic) and request.method == "GET":  # set up already: its settings
        if step == "review":
            return redirect("tenants:dashboard", slug=clinic.slug)
        return redirect("tenants:settings", slug=clinic.slug, section=step)
    return view(request, clinic, membership)


@login_required
@require_http_methods(["GET"])
def settings_start(request: HttpRequest, slug: str) -> HttpResponse:
    clinic, _ = clinic_for_request(request, slug)
    return redirect("tenants:settings", slug=clinic.slug, section="details")


@login_required
@require_http_methods(["GET", "POST"])
def settings_section(request: HttpRequest, slug: str, section: str) -> HttpResponse:
    view = STEP_VIEWS.get(section) if section != "review" else None
    if view is None:
        raise Http404("No such settings section.")
    clinic, membership = clinic_for_request(request, slug)
    if _wizard(clinic) and request.method == "GET":  # not set up yet: the guided setup
        return redirect("tenants:setup", slug=clinic.slug, step=section)
    return view(request, clinic, membership)


@login_required
@require_POST
def number_remove(request: HttpRequest, slug: str) -> HttpResponse:
    clinic, membership = clinic_for_request(request, slug)
    form = PhoneNumberRemoveForm(request.POST)
    if form.is_valid():
        try:
            phone_number_remove(clinic=clinic, e164=form.cleaned_data["e164"])
        except ValidationError as exc:
            form.add_error(None, exc.messages)
        else:
            return _saved(request, clinic, "numbers", f"{form.cleaned_data['e164']} removed.")
    form_add = PhoneNumberAddForm(region=clinic_region(clinic))
    context = {"form": form_add, "remove_errors": form.errors.get("__all__", [])}
    if not context["remove_errors"]:
        context["remove_errors"] = ["Choose a number to remove."]
    return _render_step(request, clinic, membership, "numbers", context, status=400)


@login_required
@require_POST
def go_live(request: HttpRequest, slug: str) -> HttpResponse:
    clinic, membership = clinic_for_request(request, slug)
    if clinic.state != Clinic.State.DRAFT:
        messages.info(request, f"{clinic.name} is already live.")
        return redirect("tenants:dashboard", slug=clinic.slug)
    try:
        clinic_go_live(clinic=clinic, actor=current_user(request))
    except ProvisioningError as exc:
        return _render_review(request, clinic, membership, page_error=exc.message)
    messages.success(request, f"{clinic.name} is going live. This page updates as it happens.")
    return redirect("tenants:dashboard", slug=clinic.slug)
