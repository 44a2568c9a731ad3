"""/clinics/<slug>/carrier/buy/: search numbers on sale at the connected carrier, confirm the
cost, buy (telephony/number_purchases.py). Owners and admins only, reading too: the search
uses the clinic's carrier credentials. The purchase itself runs in a worker; this page lists
the latest purchases with their state.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods

from telephony import number_purchases as buying
from telephony import number_releases as releasing
from telephony.models import CarrierAccount, NumberPurchase, NumberRelease
from telephony.validators import display_number
from tenants.access import EDIT
from tenants.carrier_forms import NumberSearchForm, PurchaseConfirmForm
from tenants.forms import add_service_errors
from tenants.models import Clinic
from tenants.views.common import clinic_for_request, current_user, settings_page

TEMPLATE = "tenants/carrier_buy.html"


@login_required
@require_http_methods(["GET", "POST"])
def carrier_buy(request: HttpRequest, slug: str) -> HttpResponse:
    clinic, membership = clinic_for_request(request, slug, read_need=EDIT)
    account = CarrierAccount.objects.filter(clinic=clinic).first()
    context: dict[str, Any] = {"carrier_account": account}
    if request.method == "POST":
        form = PurchaseConfirmForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                purchase, created = buying.purchase_start(
                    clinic=clinic,
                    number=data["e164"],
                    confirm_cost=data["confirm_cost"],
                    idempotency_key=data["key"],
                    monthly_cost=data["monthly_cost"] or "",
                    currency=data["currency"] or "",
                    actor=current_user(request),
                )
            except ValidationError as exc:
                add_service_errors(form, exc, {"idempotency_key": "key"})
            else:
                shown = display_number(purchase.e164)
                messages.success(
                    request,
                    f"Buying {shown}: this takes a few seconds. It appears under "
                    "“Your purchases” below."
                    if created
                    else f"{shown} was already being bought: nothing was bought twice.",
                )
                return redirect(request.path + "#purchases")
        context.update(_confirmation(account, form.data.get("e164", ""), form))
    elif account is not None and "e164" in request.GET:
        context.update(_confirmation(account, request.GET.get("e164", ""), None, request.GET))
    else:
        context.update(_search(clinic, request))
    context["purchases"] = NumberPurchase.objects.for_clinic(clinic)[:10]
    context["releasable"] = releasing.releasable(clinic)[:50]
    context["releases"] = NumberRelease.objects.for_clinic(clinic)[:10]
    status = 400 if request.method == "POST" else 200
    title = "Buy a new number"
    return settings_page(request, clinic, membership, TEMPLATE, "carrier", title, context, status)


def _search(clinic: Clinic, request: HttpRequest) -> dict[str, Any]:
    if "country" not in request.GET:
        return {"search_form": NumberSearchForm()}
    form = NumberSearchForm(request.GET)
    found = None
    if form.is_valid():
        try:
            search = buying.parse_search(**form.cleaned_data)
            found = buying.search_numbers(clinic=clinic, search=search)
        except ValidationError as exc:
            add_service_errors(form, exc)
    return {"search_form": form, "found": found}


def _confirmation(
    account: CarrierAccount | None,
    e164: str,
    form: PurchaseConfirmForm | None,
    query: Any = None,
) -> dict[str, Any]:
    if form is None:
        form = PurchaseConfirmForm(
            initial={
                "e164": e164,
                "key": uuid.uuid4().hex,
                "monthly_cost": (query or {}).get("monthly_cost", ""),
                "currency": (query or {}).get("currency", ""),
            }
        )
    carrier = account.get_provider_display() if account is not None else "Your carrier"
    cost = form.initial.get("monthly_cost") or form.data.get("monthly_cost", "")
    currency = form.initial.get("currency") or form.data.get("currency", "")
    if not (isinstance(cost, str) and cost.replace(".", "", 1).isdigit() and len(cost) <= 12):
        cost = ""
    if not (isinstance(currency, str) and currency.isalpha() and len(currency) == 3):
        currency = ""
    return {
        "confirm_form": form,
        "confirm_e164": e164,
        "cost_sentence": buying.price_words(carrier, cost, currency.upper()),
    }
