"""A clinic's receptionists: /clinics/<slug>/receptionists/ lists them with the numbers each
answers (and lets editors move a number to another); add, edit and delete pages beside it.

Every member may look; only owners and admins may POST (403 otherwise, from
clinic_for_request). The services (telephony/receptionists.py) decide and re-provision.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods, require_POST

from telephony.models import PhoneNumber, Receptionist
from telephony.receptionists import (
    phone_number_assign,
    receptionist_create,
    receptionist_delete,
    receptionist_update,
)
from telephony.validators import display_number
from tenants.forms import (
    NumberAssignForm,
    ReceptionistDeleteForm,
    ReceptionistForm,
    add_service_errors,
)
from tenants.models import Clinic, Membership
from tenants.views.common import clinic_for_request, settings_page

UPDATING = " Your phone line is being updated."
STEP = "receptionists"
LIST = "tenants/receptionists/list.html"
FORM = "tenants/receptionists/form.html"
DELETE = "tenants/receptionists/delete.html"


def _done(request: HttpRequest, clinic: Clinic, sentence: str) -> HttpResponse:
    live = clinic.state == Clinic.State.LIVE
    messages.success(request, sentence + (UPDATING if live else ""))
    return redirect("tenants:receptionists", slug=clinic.slug)


def _choices(clinic: Clinic) -> list[tuple[int, str]]:
    return list(Receptionist.objects.for_clinic(clinic).order_by("id").values_list("id", "name"))


def _render_list(
    request: HttpRequest,
    clinic: Clinic,
    membership: Membership,
    *,
    failed: NumberAssignForm | None = None,
) -> HttpResponse:
    rows = list(
        Receptionist.objects.for_clinic(clinic)
        .order_by("id")
        .select_related("location")
        .prefetch_related("numbers")
    )
    choices = [(r.pk, r.name) for r in rows]
    numbers = []
    for phone in PhoneNumber.objects.for_clinic(clinic).order_by("e164"):
        form = NumberAssignForm(
            initial={"e164": phone.e164, "receptionist": phone.receptionist_id},
            receptionists=choices,
            prefix=f"n{phone.pk}",
        )
        if failed is not None and failed.prefix == form.prefix:
            form = failed
        numbers.append((phone, form))
    context = {"receptionists": rows, "numbers": numbers, "first_id": rows[0].pk if rows else None}
    status = 400 if failed is not None else 200
    return settings_page(request, clinic, membership, LIST, STEP, "Receptionists", context, status)


@login_required
@require_http_methods(["GET"])
def receptionist_list(request: HttpRequest, slug: str) -> HttpResponse:
    clinic, membership = clinic_for_request(request, slug)
    return _render_list(request, clinic, membership)


def _get(clinic: Clinic, receptionist_id: int) -> Receptionist:
    row = Receptionist.objects.for_clinic(clinic).filter(pk=receptionist_id).first()
    if row is None:
        raise Http404("No such receptionist in this clinic.")
    return row


@login_required
@require_http_methods(["GET", "POST"])
def receptionist_add(request: HttpRequest, slug: str) -> HttpResponse:
    clinic, membership = clinic_for_request(request, slug)
    first = Receptionist.objects.first_of(clinic)
    # A new line starts from the first one's settings: most clinics change the language or
    # the script, not everything.
    initial = {name: getattr(first, name) for name in ReceptionistForm.base_fields}
    initial["name"] = ""
    return _form_page(
        request,
        clinic,
        membership,
        initial=initial,
        save=lambda data: receptionist_create(clinic=clinic, **data),
        saved="added",
        title="Add a receptionist",
        editing=None,
    )


def _form_page(
    request: HttpRequest,
    clinic: Clinic,
    membership: Membership,
    *,
    initial: dict[str, Any],
    save: Callable[[dict[str, Any]], Receptionist],
    saved: str,
    title: str,
    editing: Receptionist | None,
) -> HttpResponse:
    """The add and edit pages: the form, saved through `save` when valid; the service's
    refusals shown on their fields (400), nothing saved."""
    form = ReceptionistForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            row = save(form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            return _done(request, clinic, f"Receptionist “{row.name}” {saved}.")
    context = {"form": form, "editing": editing}
    status = 400 if form.errors else 200
    return settings_page(request, clinic, membership, FORM, STEP, title, context, status)


@login_required
@require_http_methods(["GET", "POST"])
def receptionist_edit(request: HttpRequest, slug: str, receptionist_id: int) -> HttpResponse:
    clinic, membership = clinic_for_request(request, slug)
    row = _get(clinic, receptionist_id)
    initial = {name: getattr(row, name) for name in ReceptionistForm.base_fields}
    return _form_page(
        request,
        clinic,
        membership,
        initial=initial,
        save=lambda data: receptionist_update(receptionist=row, **data),
        saved="saved",
        title=row.name,
        editing=row,
    )


@login_required
@require_http_methods(["GET", "POST"])
def receptionist_remove(request: HttpRequest, slug: str, receptionist_id: int) -> HttpResponse:
    clinic, membership = clinic_for_request(request, slug)
    row = _get(clinic, receptionist_id)
    others = [(pk, name) for pk, name in _choices(clinic) if pk != row.pk]
    form = ReceptionistDeleteForm(request.POST if request.method == "POST" else None, others=others)
    if request.method == "POST" and form.is_valid():
        try:
            receptionist_delete(
                receptionist=row, move_to=_get(clinic, form.cleaned_data["move_to"])
            )
        except ValidationError as exc:
            add_service_errors(form, exc, {"receptionist": "move_to"})
        else:
            return _done(request, clinic, f"Receptionist “{row.name}” deleted.")
    context = {"form": form, "row": row, "last": not others, "count": row.numbers.count()}
    status = 400 if form.errors else 200
    title = f"Delete {row.name}"
    return settings_page(request, clinic, membership, DELETE, STEP, title, context, status)


@login_required
@require_POST
def number_assign(request: HttpRequest, slug: str) -> HttpResponse:
    clinic, membership = clinic_for_request(request, slug)
    prefix = next((k.split("-", 1)[0] for k in request.POST if k.endswith("-e164")), "")
    form = NumberAssignForm(request.POST, receptionists=_choices(clinic), prefix=prefix or None)
    if form.is_valid():
        e164 = form.cleaned_data["e164"]
        try:
            phone = phone_number_assign(
                clinic=clinic, e164=e164, receptionist=form.cleaned_data["receptionist"]
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            name, shown = phone.receptionist.name, display_number(e164)
            return _done(request, clinic, f"{shown} is now answered by “{name}”.")
    return _render_list(request, clinic, membership, failed=form)
