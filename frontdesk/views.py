"""Web pages: a clinic's opening hours, what the receptionist knows, and each receptionist's
after-hours behaviour (Settings). Every member may look; owners and admins save."""

from __future__ import annotations

import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods

from frontdesk.forms import AfterHoursForm, ClinicInfoForm, HoursForm
from frontdesk.models import AfterHours
from frontdesk.services import (
    after_hours_of,
    after_hours_update,
    desk_of,
    hours_replace,
    knowledge_update,
)
from telephony.models import Receptionist
from tenants.views.common import clinic_for_request, settings_page

HOURS = "frontdesk/hours.html"
INFO = "frontdesk/clinic_info.html"
AFTER_HOURS = "frontdesk/after_hours.html"
_ENTRY = re.compile(r"^(weekly|closures|faqs|services|insurers|languages)\[(\d+)\](?:\.(\w+))?$")


def _apply_hours_errors(form: HoursForm, exc: ValidationError, fields: list[str]) -> None:
    for key, errors in exc.message_dict.items():
        match = _ENTRY.match(key)
        if match and match.group(1) == "weekly":
            field = fields[int(match.group(2))]
            target = f"{field}_opens" if match.group(3) in ("opens", "day") else f"{field}_closes"
            form.add_error(target, errors)
        elif match and match.group(1) == "closures":
            line = int(match.group(2)) + 1
            form.add_error("closures", [f"Line {line}: {e}" for e in errors])
        else:
            form.add_error(key if key in form.fields else None, errors)


@login_required
@require_http_methods(["GET", "POST"])
def hours(request: HttpRequest, slug: str) -> HttpResponse:
    clinic, membership = clinic_for_request(request, slug)
    desk = desk_of(clinic)
    form = HoursForm(initial=HoursForm.initial_for(desk, clinic.timezone))
    if request.method == "POST":
        form = HoursForm(request.POST)
        if form.is_valid():
            weekly, fields = form.weekly()
            try:
                hours_replace(
                    clinic=clinic,
                    timezone=form.cleaned_data["timezone"],
                    weekly=weekly,
                    closures=form.closure_rows(),
                )
            except ValidationError as exc:
                _apply_hours_errors(form, exc, fields)
            else:
                messages.success(request, "Opening hours saved. Calls follow them right away.")
                return redirect("frontdesk:hours", slug=clinic.slug)
    context = {"form": form, "desk": desk}
    return settings_page(request, clinic, membership, HOURS, "hours", "Opening hours", context)


@login_required
@require_http_methods(["GET", "POST"])
def clinic_info(request: HttpRequest, slug: str) -> HttpResponse:
    clinic, membership = clinic_for_request(request, slug)
    desk = desk_of(clinic)
    form = ClinicInfoForm(initial=ClinicInfoForm.initial_for(desk))
    if request.method == "POST":
        form = ClinicInfoForm(request.POST)
        if form.is_valid():
            try:
                knowledge_update(clinic=clinic, **form.changes())
            except ValidationError as exc:
                for key, errors in exc.message_dict.items():
                    match = _ENTRY.match(key)
                    field = match.group(1) if match else key
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(request, "Saved. The receptionist uses this on the next call.")
                return redirect("frontdesk:clinic_info", slug=clinic.slug)
    context = {"form": form, "desk": desk}
    title = "What the receptionist knows"
    return settings_page(request, clinic, membership, INFO, "clinic-info", title, context)


@login_required
@require_http_methods(["GET", "POST"])
def after_hours(request: HttpRequest, slug: str, receptionist_id: int) -> HttpResponse:
    clinic, membership = clinic_for_request(request, slug)
    rows = list(Receptionist.objects.for_clinic(clinic).order_by("id"))
    receptionist = next((r for r in rows if r.pk == receptionist_id), None)
    if receptionist is None:
        raise Http404("No such receptionist in this clinic.")
    others = [(r.pk, r.name) for r in rows if r.pk != receptionist.pk]
    row = after_hours_of(receptionist)
    initial = {
        "action": row.action,
        "route_to": row.route_to_id,
        "greeting": row.greeting,
        "instructions": row.instructions,
    }
    form = AfterHoursForm(initial=initial, others=others)
    if request.method == "POST":
        form = AfterHoursForm(request.POST, others=others)
        if form.is_valid():
            data = form.cleaned_data
            try:
                after_hours_update(
                    receptionist=receptionist,
                    action=data["action"],
                    greeting=data["greeting"],
                    instructions=data["instructions"],
                    route_to=data["route_to"],
                    route_to_given=True,
                )
            except ValidationError as exc:
                for key, errors in exc.message_dict.items():
                    form.add_error(key if key in form.fields else None, errors)
            else:
                messages.success(
                    request, f"Saved what {receptionist.name} does when you are closed."
                )
                return redirect(
                    "frontdesk:after_hours", slug=clinic.slug, receptionist_id=receptionist.pk
                )
    context = {
        "form": form,
        "receptionist": receptionist,
        "action_label": AfterHours.Action(row.action).label,
    }
    title = f"{receptionist.name}: when you are closed"
    return settings_page(request, clinic, membership, AFTER_HOURS, "receptionists", title, context)
