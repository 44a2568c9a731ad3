"""The carrier step's automatic part: connect a Twilio or Telnyx account, pick the account's
numbers the receptionist answers, disconnect. The step view (onboarding._carrier) hands
every POST with a ``carrier_action`` here; the manual settings form stays as it was.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from telephony import carrier_services as carriers
from telephony.models import CarrierAccount, TrunkSettings
from telephony.services import phone_number_add
from tenants.carrier_forms import NumberPickForm, TelnyxConnectForm, TwilioConnectForm
from tenants.forms import WebForm, add_service_errors
from tenants.models import Clinic, Membership
from tenants.views.common import current_user

CONNECT_FORMS: dict[str, type[WebForm]] = {
    "twilio": TwilioConnectForm,
    "telnyx": TelnyxConnectForm,
}


def _back(request: HttpRequest) -> HttpResponse:
    return redirect(request.path + "#carrier-connect")


def carrier_context(
    clinic: Clinic, membership: Membership, bound: dict[str, Any] | None = None
) -> dict[str, Any]:
    """What the carrier step shows of the carrier account; the account's numbers are read
    from the carrier when the page is shown to someone who may pick them."""
    account = CarrierAccount.objects.filter(clinic=clinic).first()
    context: dict[str, Any] = {
        "carrier_account": account,
        "carrier_side": carriers.carrier_status(clinic=clinic) if account else None,
        "carrier_confirmed_at": TrunkSettings.objects.filter(clinic=clinic)
        .values_list("carrier_confirmed_at", flat=True)
        .first(),
        "twilio_form": TwilioConnectForm(),
        "telnyx_form": TelnyxConnectForm(),
    }
    if account is not None and membership.can_edit:
        try:
            choices = carriers.account_numbers(clinic=clinic)
        except ValidationError as exc:
            context["numbers_error"] = " ".join(exc.messages)
            account.refresh_from_db()
        else:
            context["account_numbers"] = choices
            context["pick_form"] = _pick_form(None, choices)
    context.update(bound or {})
    return context


def _pick_form(data: Any, choices: list[carriers.NumberChoice]) -> NumberPickForm:
    """Only numbers that can take calls, that the clinic does not have yet, and that no
    other trunk or connection has (never taken over) may be ticked."""
    pickable = [
        (c.e164, c.e164) for c in choices if c.usable and not c.chosen and not c.attached_elsewhere
    ]
    return NumberPickForm(data, choices=pickable)


def carrier_post(
    request: HttpRequest, clinic: Clinic, membership: Membership
) -> HttpResponse | dict[str, Any]:
    """Carry out a carrier action: a redirect when done, else what the page shows again."""
    action = request.POST.get("carrier_action")
    user = current_user(request)
    if action == "disconnect":
        account = CarrierAccount.objects.filter(clinic=clinic).first()
        if carriers.carrier_disconnect(clinic=clinic, actor=user) and account is not None:
            messages.success(
                request,
                f"{account.get_provider_display()} disconnected: its credentials are "
                "forgotten and your numbers stay in your account.",
            )
        return _back(request)
    if action == "pick":
        return _pick(request, clinic)
    if action in ("confirm", "unconfirm"):
        carriers.carrier_confirm_by_hand(clinic=clinic, confirmed=action == "confirm")
        if action == "confirm":
            messages.success(
                request,
                "Thanks. Your receptionist answers as soon as your carrier sends the first call.",
            )
        return _back(request)
    provider = request.POST.get("provider", "")
    form_class = CONNECT_FORMS.get(provider)
    if action != "connect" or form_class is None:
        return {"page_error": "That action is not available here; reload the page."}
    form = form_class(request.POST)
    if form.is_valid():
        try:
            creds = carriers.parse_credentials(provider=provider, **form.cleaned_data)
            account = carriers.carrier_connect(clinic=clinic, creds=creds, actor=user)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request,
                f"{account.get_provider_display()} connected. Now tick the numbers your "
                "receptionist should answer.",
            )
            return _back(request)
    return {f"{provider}_form": form, "open_provider": provider}


def _pick(request: HttpRequest, clinic: Clinic) -> HttpResponse | dict[str, Any]:
    try:
        choices = carriers.account_numbers(clinic=clinic)
    except ValidationError as exc:
        return {"numbers_error": " ".join(exc.messages)}
    form = _pick_form(request.POST, choices)
    if form.is_valid():
        added = []
        for e164 in form.cleaned_data["numbers"]:
            try:
                added.append(phone_number_add(clinic=clinic, number=e164).e164)
            except ValidationError as exc:
                add_service_errors(form, exc, {"number": "numbers", "e164": "numbers"})
        if added and not form.errors:
            messages.success(request, f"Added {', '.join(added)}.")
            return _back(request)
    return {"account_numbers": choices, "pick_form": form}
