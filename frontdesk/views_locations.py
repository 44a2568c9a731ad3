"""Web pages: a clinic's locations (Settings → Locations) and one location's page (its name,
address, directions, the receptionists answering for it, its own hours). Every member may
look; owners and admins save."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods

from frontdesk.forms_locations import LocationAddForm, LocationForm
from frontdesk.locations import (
    location_create,
    location_delete,
    location_update,
    receptionist_location_set,
)
from frontdesk.models import Location
from frontdesk.views import _apply_hours_errors
from telephony.models import Receptionist
from tenants.views.common import clinic_for_request, settings_page

STEP = "locations"
LIST = "frontdesk/locations.html"
ONE = "frontdesk/location.html"


def _errors_to(form: LocationAddForm | LocationForm, exc: ValidationError) -> None:
    for key, errors in exc.message_dict.items():
        form.add_error(key if key in form.fields else None, errors)


@login_required
@require_http_methods(["GET", "POST"])
def locations(request: HttpRequest, slug: str) -> HttpResponse:
    clinic, membership = clinic_for_request(request, slug)
    form = LocationAddForm()
    if request.method == "POST":
        form = LocationAddForm(request.POST)
        if form.is_valid():
            try:
                row = location_create(clinic=clinic, name=form.cleaned_data["name"])
            except ValidationError as exc:
                _errors_to(form, exc)
            else:
                messages.success(request, f"Added {row.name}. Give its address and hours below.")
                return redirect("frontdesk:location", slug=clinic.slug, location_id=row.pk)
    rows = list(Location.objects.filter(clinic=clinic).order_by("id"))
    lines: dict[int, list[str]] = {}
    for name, location_id in Receptionist.objects.filter(location__in=rows).values_list(
        "name", "location_id"
    ):
        lines.setdefault(location_id, []).append(name)
    context = {"form": form, "rows": [(r, sorted(lines.get(r.pk, []))) for r in rows]}
    return settings_page(request, clinic, membership, LIST, STEP, "Locations", context)


@login_required
@require_http_methods(["GET", "POST"])
def location(request: HttpRequest, slug: str, location_id: int) -> HttpResponse:
    clinic, membership = clinic_for_request(request, slug)
    row = Location.objects.filter(clinic=clinic, pk=location_id).first()
    if row is None:
        raise Http404("No such location in this clinic.")
    lines = list(Receptionist.objects.for_clinic(clinic).order_by("id"))
    choices = [(r.pk, r.name) for r in lines]
    mine = [r.pk for r in lines if r.location_id == row.pk]
    kwargs = {"clinic_zone": clinic.timezone, "lines": choices}
    form = LocationForm(initial=LocationForm.initial_for_location(row, mine), **kwargs)
    if request.method == "POST" and "delete" in request.POST:
        location_delete(location=row)
        messages.success(request, f"Removed {row.name}. Its receptionists use the clinic's.")
        return redirect("frontdesk:locations", slug=clinic.slug)
    if request.method == "POST":
        form = LocationForm(request.POST, **kwargs)
        if form.is_valid():
            hours, fields = form.hours()
            data = form.cleaned_data
            try:
                with transaction.atomic():
                    location_update(
                        location=row,
                        name=data["name"],
                        address=data["address"],
                        directions=data["directions"],
                        hours=hours,
                    )
                    wanted = set(data["receptionists"])
                    for line in lines:
                        if line.pk in wanted and line.location_id != row.pk:
                            receptionist_location_set(receptionist=line, location=row)
                        elif line.pk not in wanted and line.location_id == row.pk:
                            receptionist_location_set(receptionist=line, location=None)
            except ValidationError as exc:
                _apply_location_errors(form, exc, fields)
            else:
                messages.success(request, f"Saved {data['name']}. Calls follow it right away.")
                return redirect("frontdesk:location", slug=clinic.slug, location_id=row.pk)
    context = {
        "form": form,
        "location": row,
        "lines_here": [r.name for r in lines if r.location_id == row.pk],
    }
    return settings_page(request, clinic, membership, ONE, STEP, row.name, context)


def _apply_location_errors(form: LocationForm, exc: ValidationError, fields: list[str]) -> None:
    hours = {
        k.removeprefix("hours."): v for k, v in exc.message_dict.items() if k.startswith("hours.")
    }
    if hours:
        _apply_hours_errors(form, ValidationError(hours), fields)
    rest = {k: v for k, v in exc.message_dict.items() if not k.startswith("hours.")}
    for key, errors in rest.items():
        form.add_error(key if key in form.fields else None, errors)
