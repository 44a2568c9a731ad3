"""Searching for and buying a new number in the clinic's connected carrier account
(docs/carriers.md, docs/decisions/0110).

A purchase costs the clinic money, so it needs an explicit confirmation, and it must never
happen twice: ``purchase_start`` writes a ``NumberPurchase`` intent (one per idempotency key,
one per number underway) and publishes the task when the transaction commits; the task
(telephony/purchase_runner.py) talks to the carrier. Errors are ValidationErrors naming the
field, like telephony.services.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.recorder import record
from telephony.carriers import (
    CarrierCredentialsError,
    CarrierError,
    CarrierNotFoundError,
    CarrierTransientError,
    client_for,
)
from telephony.carriers.buying import KINDS, LOCAL, OnSale
from telephony.models import CarrierAccount, NumberPurchase, PhoneNumber
from telephony.services import MAX_NUMBERS_PER_CLINIC
from telephony.task_names import PURCHASE_NUMBER
from telephony.validators import normalize_e164
from tenants.models import Clinic, User

logger = logging.getLogger(__name__)
COUNTRY_RE = re.compile(r"^[A-Za-z]{2}$")
AREA_CODE_RE = re.compile(r"^[0-9]{1,5}$")
CONTAINS_RE = re.compile(r"^[0-9*]{1,10}$")
KEY_RE = re.compile(r"^[\x21-\x7e]{1,100}$")
SEARCH_LIMIT = 20
COST_SENTENCE = (
    "{carrier} charges your {carrier} account for this number every month ({price}), "
    "until you release it in your {carrier} account."
)


@dataclass(frozen=True)
class Search:
    country: str
    area_code: str
    contains: str
    number_type: str = LOCAL


def parse_search(
    *, country: object, area_code: object = "", contains: object = "", number_type: object = ""
) -> Search:
    """The search's fields, checked before any call, each refusal naming its field."""
    fields = (
        ("country", country),
        ("area_code", area_code),
        ("contains", contains),
        ("number_type", number_type),
    )
    text = {name: value.strip() if isinstance(value, str) else value for name, value in fields}
    for name, value in text.items():
        if value is not None and not isinstance(value, str):
            raise ValidationError({name: "Give this as text."})
    country_s = str(text["country"] or "")
    if not COUNTRY_RE.match(country_s):
        raise ValidationError({"country": "Give the country as two letters, like US or CA."})
    area = str(text["area_code"] or "")
    if area and not AREA_CODE_RE.match(area):
        raise ValidationError({"area_code": "An area code is 1 to 5 digits, like 415."})
    wanted = str(text["contains"] or "")
    if wanted and not CONTAINS_RE.match(wanted):
        raise ValidationError(
            {"contains": "Give up to 10 digits the number should contain (* for any digit)."}
        )
    kind = str(text["number_type"] or LOCAL).lower()
    if kind not in KINDS:
        raise ValidationError(
            {"number_type": "Give the kind of number as local, toll_free or mobile."}
        )
    return Search(country_s.upper(), area, wanted, kind)


def connected_account(clinic: Clinic) -> CarrierAccount:
    account = CarrierAccount.objects.filter(clinic=clinic).first()
    if account is None:
        raise ValidationError("Connect your Twilio or Telnyx account first.")
    if account.state == CarrierAccount.State.CREDENTIALS_REJECTED:
        raise ValidationError(
            f"{account.get_provider_display()} no longer accepts the saved credentials: "
            "connect the account again first."
        )
    if account.state != CarrierAccount.State.CONNECTED:
        raise ValidationError(f"{account.get_provider_display()} is being disconnected.")
    return account


def _buyer(account: CarrierAccount) -> Any:
    from telephony.ratelimit import carrier_limiter

    carrier: Any = client_for(account)
    carrier.limiter = carrier_limiter(f"{account.provider}:{account.account_sid or account.pk}")
    if account.provider == CarrierAccount.Provider.TWILIO:
        from telephony.carriers.twilio_buying import TwilioBuyer

        return TwilioBuyer(carrier)
    from telephony.carriers.telnyx_buying import TelnyxBuyer

    return TelnyxBuyer(carrier)


def search_numbers(*, clinic: Clinic, search: Search) -> list[OnSale]:
    """Numbers on sale at the clinic's carrier (voice-capable), read now."""
    account = connected_account(clinic)
    name = account.get_provider_display()
    try:
        found: list[OnSale] = _buyer(account).on_sale(
            country=search.country,
            area_code=search.area_code,
            contains=search.contains,
            limit=SEARCH_LIMIT,
            kind=search.number_type,
        )
    except CarrierCredentialsError as exc:
        CarrierAccount.objects.filter(pk=account.pk).update(
            state=CarrierAccount.State.CREDENTIALS_REJECTED, status_message=exc.message
        )
        raise ValidationError(exc.message) from None
    except CarrierNotFoundError:  # Twilio: no such kind of number in that country
        return []
    except CarrierTransientError:
        raise ValidationError(
            f"{name} did not answer just now. Search again in a minute."
        ) from None
    except CarrierError as exc:
        raise ValidationError(f"{name} refused the search: {exc.message}") from None
    owned = set(
        PhoneNumber.objects.values_list("e164", flat=True).filter(e164__in=[n.e164 for n in found])
    )
    return [n for n in found if n.e164 not in owned]


def price_words(carrier: str, monthly_cost: str, currency: str) -> str:
    """What the confirmation says the number costs."""
    if monthly_cost:
        price = f"{monthly_cost} {currency} a month, as {carrier} quotes it".replace("  ", " ")
    else:
        price = f"see your {carrier} price list"
    return COST_SENTENCE.format(carrier=carrier, price=price)


def _number_limit(clinic: Clinic) -> None:
    numbers = PhoneNumber.objects.for_clinic(clinic).count()
    underway = (
        NumberPurchase.objects.for_clinic(clinic).filter(state=NumberPurchase.State.PENDING).count()
    )
    if numbers + underway >= MAX_NUMBERS_PER_CLINIC:
        raise ValidationError(
            {"e164": f"A clinic can have at most {MAX_NUMBERS_PER_CLINIC} numbers."}
        )


def purchase_start(
    *,
    clinic: Clinic,
    number: object,
    confirm_cost: object,
    idempotency_key: object = "",
    monthly_cost: str = "",
    currency: str = "",
    actor: User | None = None,
) -> tuple[NumberPurchase, bool]:
    """Record the intent to buy ``number`` and publish the purchase; (purchase, created).
    The same key, or a number being bought or bought here, answers that purchase."""
    account = connected_account(clinic)
    e164, key = _number_and_key(number, idempotency_key)
    existing = _existing(clinic, key, e164)
    if existing is not None:
        return existing, False
    _may_buy(clinic, e164, confirm_cost)
    try:
        with transaction.atomic():
            purchase = NumberPurchase.objects.create(
                clinic=clinic,
                provider=account.provider,
                e164=e164,
                idempotency_key=key,
                monthly_cost=monthly_cost[:20],
                currency=currency[:3],
                requested_by=actor if getattr(actor, "is_authenticated", False) else None,
                status_message=f"Buying {e164} at {account.get_provider_display()}.",
                next_attempt_at=_grace(),  # the sweeper leaves it to its own task until then
            )
            record(
                "carrier.number_purchase",
                clinic=clinic,
                target=purchase,
                actor=actor,
                extra={"e164": e164, "provider": account.provider, "key": key},
            )
            publish_purchase(purchase.pk)
    except IntegrityError:
        # The same key or number, committed by a concurrent request in between.
        existing = _existing(clinic, key, e164)
        if existing is None:
            raise ValidationError(
                {"e164": f"{e164} is being bought for another clinic on Switchboard."}
            ) from None
        return existing, False
    return purchase, True


def _grace() -> Any:
    return timezone.now() + timedelta(seconds=float(settings.PURCHASE_SWEEP_GRACE_SECONDS))


def _number_and_key(number: object, idempotency_key: object) -> tuple[str, str]:
    try:
        e164 = normalize_e164(number, None)
    except ValidationError as exc:
        raise ValidationError({"e164": exc.messages}) from None
    key = idempotency_key.strip() if isinstance(idempotency_key, str) else ""
    if idempotency_key not in ("", None) and not KEY_RE.match(key):
        raise ValidationError(
            {"idempotency_key": "Use 1 to 100 printable characters without spaces."}
        )
    return e164, key or f"auto:{uuid.uuid4()}"  # a repeat is found by its number


def _may_buy(clinic: Clinic, e164: str, confirm_cost: object) -> None:
    if confirm_cost is not True:
        raise ValidationError(
            {
                "confirm_cost": "Buying a number costs money at your carrier: confirm that "
                "you accept the charge (confirm_cost: true)."
            }
        )
    if clinic.state == Clinic.State.OFFBOARDED:
        raise ValidationError({"e164": "This clinic has been offboarded."})
    if PhoneNumber.objects.filter(e164=e164).exists():
        raise ValidationError({"e164": f"{e164} is already registered on Switchboard."})
    _number_limit(clinic)


def _existing(clinic: Clinic, key: str, e164: str) -> NumberPurchase | None:
    purchases = NumberPurchase.objects.for_clinic(clinic)
    same_key = purchases.filter(idempotency_key=key).first()
    if same_key is not None:
        if same_key.e164 != e164:
            raise ValidationError(
                {
                    "idempotency_key": f"This key was already used to buy {same_key.e164}; "
                    "use a new key for another number."
                }
            )
        return same_key
    return purchases.filter(
        e164=e164, state__in=[NumberPurchase.State.PENDING, NumberPurchase.State.BOUGHT]
    ).first()


def publish_purchase(purchase_id: Any, countdown: float | None = None) -> None:
    """Publish the purchase task when the transaction commits; with the broker down the
    purchase sweeper (telephony.sweep_purchases) is the outbox."""

    def send() -> None:
        try:
            current_app.signature(PURCHASE_NUMBER, args=[str(purchase_id)]).apply_async(
                countdown=countdown
            )
        except Exception:  # the broker is down: the purchase sweeper publishes it later
            logger.warning("could not enqueue purchase %s; the sweeper will", purchase_id)

    transaction.on_commit(send, robust=True)
