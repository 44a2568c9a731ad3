"""/clinics/<slug>/carrier/release/: give a number Switchboard bought back to the carrier,
after a confirmation that it cannot be recovered; .../release/<id>/retry/ tries a failed
release again (telephony/number_releases.py, docs/decisions/0165). Owners and admins only.
The release runs in a worker; the buy page lists the releases with their state.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from telephony import number_releases as releasing
from telephony.models import CarrierAccount
from telephony.validators import display_number
from tenants.access import EDIT
from tenants.carrier_forms import ReleaseConfirmForm
from tenants.forms import add_service_errors
from tenants.models import Clinic
from tenants.views.common import clinic_for_request, current_user, settings_page

TEMPLATE = "tenants/carrier_release.html"


@login_required
@require_http_methods(["GET", "POST"])
def carrier_release(request: HttpRequest, slug: str) -> HttpResponse:
    clinic, membership = clinic_for_request(request, slug, read_need=EDIT)
    back = reverse("tenants:carrier_buy", args=[clinic.slug]) + "#bought"
    status = 200
    if request.method == "POST":
        form = ReleaseConfirmForm(request.POST)
        if form.is_valid():
            try:
                release, created = releasing.release_start(
                    clinic=clinic,
                    number=form.cleaned_data["e164"],
                    confirm_release=form.cleaned_data["confirm_release"],
                    actor=current_user(request),
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                shown = display_number(release.e164)
                messages.success(
                    request,
                    f"Releasing {shown}: this takes a few seconds. It appears under "
                    "“Your releases” below."
                    if created
                    else f"{shown} was already being released: nothing was released twice.",
                )
                return redirect(back.replace("#bought", "#releases"))
        status = 400
    else:
        wanted = request.GET.get("e164", "")
        if not releasing.releasable(clinic).filter(e164=wanted).exists():
            messages.info(request, "Pick one of the numbers Switchboard bought to release it.")
            return redirect(back)
        form = ReleaseConfirmForm(initial={"e164": wanted})
    context = _confirmation(clinic, form) | {"back": back}
    title = "Release a number"
    return settings_page(request, clinic, membership, TEMPLATE, "carrier", title, context, status)


def _confirmation(clinic: Clinic, form: ReleaseConfirmForm) -> dict[str, Any]:
    e164 = form.data.get("e164") or form.initial.get("e164", "")
    account = CarrierAccount.objects.filter(clinic=clinic).first()
    carrier = account.get_provider_display() if account is not None else "your carrier"
    return {
        "release_form": form,
        "release_e164": e164,
        "release_sentence": releasing.release_words(carrier, display_number(str(e164))),
    }


@login_required
@require_POST
def carrier_release_retry(request: HttpRequest, slug: str, release_id: uuid.UUID) -> HttpResponse:
    clinic, _ = clinic_for_request(request, slug)
    try:
        release = releasing.release_retry(
            clinic=clinic, release_id=release_id, actor=current_user(request)
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Releasing {display_number(release.e164)} again.")
    return redirect(reverse("tenants:carrier_buy", args=[clinic.slug]) + "#releases")
