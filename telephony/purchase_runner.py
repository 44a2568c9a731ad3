"""One attempt at a number purchase, as the purchase task runs it (docs/decisions/0110).

The attempt holds the purchase's lease (database clock), so two workers never talk to the
carrier about one purchase at once. Before every purchase request ``sent_at`` is committed;
while it is set, the outcome of an earlier request is unknown (a lost reply, a worker killed
mid-call), so the attempt first asks the carrier (``Buyer.find``): a number the account
owns, or an order with the purchase's reference, is adopted; only a carrier that proves
the purchase was not placed is asked again. A bought number is added to the clinic's
numbers (answered by the first receptionist), which requests provisioning: the engine then
attaches it at the carrier and in LiveKit like any other number.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone

from audit.recorder import record
from telephony.carriers import (
    CarrierCredentialsError,
    CarrierNotFoundError,
    CarrierRejectedError,
    CarrierTransientError,
    markers,
)
from telephony.carriers.buying import Bought
from telephony.models import CarrierAccount, NumberPurchase
from telephony.number_purchases import _buyer, publish_purchase
from telephony.provisioning.lease import lease_free
from telephony.services import phone_number_add

logger = logging.getLogger(__name__)
PENDING = NumberPurchase.State.PENDING
COMPLETING_DELAY = 2.0  # seconds between reads of a Telnyx order that is not complete yet


@dataclass(frozen=True)
class Outcome:
    state: str
    retry_in: float | None = None


def reference(purchase: NumberPurchase) -> str:
    """The purchase's name at the carrier (Telnyx customer_reference, Twilio FriendlyName)."""
    return f"{markers.PREFIX}:{settings.SWITCHBOARD_DEPLOYMENT_ID}:buy:{purchase.pk}"


def _take(purchase_id: Any) -> bool:
    lease = timedelta(seconds=settings.PURCHASE_LEASE_SECONDS)
    taken = (
        NumberPurchase.objects.filter(pk=purchase_id, state=PENDING)
        .filter(lease_free())
        .update(lease_until=Now() + lease)
    )
    return taken == 1


def _save(purchase: NumberPurchase, *fields: str) -> None:
    purchase.save(update_fields=[*fields, "updated_at"])


def run_purchase(purchase_id: Any) -> Outcome:
    if not _take(purchase_id):
        row = NumberPurchase.objects.filter(pk=purchase_id).first()
        if row is None or row.state != PENDING:
            return Outcome(row.state if row is not None else "gone")
        # Another attempt holds it (or a killed one did): that attempt's own retry, or the
        # sweeper once the lease is free and the attempt due, carries on. Retrying here as
        # well would leave two retry chains for one purchase.
        return Outcome("busy")
    purchase = NumberPurchase.objects.select_related("clinic").get(pk=purchase_id)
    try:
        return _attempt(purchase)
    finally:
        NumberPurchase.objects.filter(pk=purchase.pk).update(lease_until=None)


def _unusable(purchase: NumberPurchase, account: CarrierAccount | None) -> Outcome | None:
    """The outcome when the account cannot be asked at all; None when it can."""
    if account is None or account.state == CarrierAccount.State.DISCONNECTING:
        words = "The carrier account was disconnected before the number was bought."
        if purchase.sent_at is not None:
            words = (
                "The carrier account was disconnected before Switchboard could confirm the "
                f"purchase: look for {purchase.e164} in your carrier account."
            )
        return _fail(purchase, words)
    if account.state == CarrierAccount.State.CREDENTIALS_REJECTED:
        if purchase.sent_at is None:
            return _fail(purchase, f"Not bought: {account.status_message}".strip())
        return _later(purchase, "Waiting for working carrier credentials to confirm the "
                      "purchase: connect the account again.", None)  # fmt: skip
    return None


def _attempt(purchase: NumberPurchase) -> Outcome:
    account = CarrierAccount.objects.filter(clinic_id=purchase.clinic_id).first()
    unusable = _unusable(purchase, account)
    if unusable is not None or account is None:
        return unusable or Outcome(purchase.state)
    buyer = _buyer(account)
    phase = "find"
    try:
        if purchase.sent_at is not None:
            found = _find(buyer, purchase)
            if found is not None:
                return _settle(purchase, found)
            settling = _in_flight_for(purchase)
            if settling:  # an earlier request may still be on its way: not proof yet
                return _later(
                    purchase, "Checking with the carrier whether it was bought.", settling
                )
            purchase.sent_at = None  # the carrier proves it was not placed
        phase = "buy"
        purchase.sent_at = timezone.now()
        purchase.attempts += 1
        purchase.creates_sent += 1
        _save(purchase, "sent_at", "attempts", "creates_sent")  # committed before the call
        bought = buyer.buy(e164=purchase.e164, reference=reference(purchase))
        return _settle(purchase, bought)
    except CarrierTransientError as exc:
        if phase == "find":
            purchase.attempts += 1
        elif exc.status == 429:  # refused unprocessed (rate limit): nothing was placed
            purchase.sent_at = None
        return _later(purchase, exc.message, exc.retry_after)
    except CarrierCredentialsError as exc:
        CarrierAccount.objects.filter(pk=account.pk).update(
            state=CarrierAccount.State.CREDENTIALS_REJECTED, status_message=exc.message
        )
        if phase == "buy":  # refused before anything was bought
            purchase.sent_at = None
            return _fail(purchase, f"Not bought: {exc.message}")
        return _later(purchase, exc.message, None)
    except CarrierRejectedError as exc:
        if phase == "buy":  # the carrier refused the purchase itself: nothing was bought
            purchase.sent_at = None
            return _fail(purchase, exc.message)
        return _later(purchase, exc.message, None)


def _find(buyer: Any, purchase: NumberPurchase) -> Bought | None:
    try:
        found: Bought | None = buyer.find(
            e164=purchase.e164, reference=reference(purchase), order_id=purchase.order_id
        )
    except CarrierNotFoundError:
        return None
    return found


def _in_flight_for(purchase: NumberPurchase) -> float:
    """Seconds until a purchase request sent at ``sent_at`` has surely ended (its client
    timeout, twice): only a "not there" read after that proves it was not placed."""
    assert purchase.sent_at is not None
    settled_at = purchase.sent_at + timedelta(seconds=2 * float(settings.CARRIER_TIMEOUT_SECONDS))
    return max(0.0, (settled_at - timezone.now()).total_seconds())


def _backoff(attempts: int, retry_after: float | None) -> float:
    ceiling = float(settings.PURCHASE_BACKOFF_MAX_SECONDS)
    delay = random.uniform(0, min(ceiling, 2.0 * 2 ** max(0, attempts - 1)))  # noqa: S311
    return max(1.0, delay, retry_after or 0.0)


def _later(purchase: NumberPurchase, words: str, retry_after: float | None) -> Outcome:
    delay = _backoff(purchase.attempts, retry_after)
    purchase.status_message = words[:300]
    grace = float(settings.PURCHASE_SWEEP_GRACE_SECONDS)
    purchase.next_attempt_at = timezone.now() + timedelta(seconds=delay + grace)
    _save(purchase, "status_message", "next_attempt_at", "attempts", "sent_at")
    return Outcome(PENDING, retry_in=delay)


def _fail(purchase: NumberPurchase, words: str) -> Outcome:
    purchase.state = NumberPurchase.State.FAILED
    purchase.status_message = words[:300]
    _save(purchase, "state", "status_message", "sent_at")
    record(
        "carrier.number_purchase_failed",
        clinic=purchase.clinic,
        target=purchase,
        extra={"e164": purchase.e164, "provider": purchase.provider, "reason": words[:300]},
    )
    return Outcome(purchase.state)


def _settle(purchase: NumberPurchase, bought: Bought) -> Outcome:
    purchase.carrier_id = bought.carrier_id or purchase.carrier_id
    purchase.order_id = bought.order_id or purchase.order_id
    if bought.failed:
        _save(purchase, "carrier_id", "order_id")
        return _fail(purchase, bought.failed)
    if not bought.complete:
        purchase.status_message = "Ordered: the carrier is completing the purchase."
        purchase.next_attempt_at = timezone.now() + timedelta(
            seconds=COMPLETING_DELAY + float(settings.PURCHASE_SWEEP_GRACE_SECONDS)
        )
        _save(purchase, "carrier_id", "order_id", "status_message", "next_attempt_at")
        return Outcome(PENDING, retry_in=COMPLETING_DELAY)
    with transaction.atomic():
        purchase.state = NumberPurchase.State.BOUGHT
        try:
            phone_number_add(clinic=purchase.clinic, number=purchase.e164)
        except ValidationError as exc:
            purchase.status_message = (
                f"Bought {purchase.e164}, but it could not be added to your numbers: "
                f"{' '.join(exc.messages)}"
            )[:300]
        else:
            purchase.added = True
            purchase.status_message = (
                f"Bought {purchase.e164} and added it to your numbers: your receptionist "
                "answers it as soon as it is set up."
            )
        _save(purchase, "state", "carrier_id", "order_id", "status_message", "added")
        record(
            "carrier.number_bought",
            clinic=purchase.clinic,
            target=purchase,
            extra={"e164": purchase.e164, "provider": purchase.provider, "id": purchase.carrier_id},
        )
    return Outcome(purchase.state)


def sweep_purchases(limit: int = 200) -> int:
    """The purchases' outbox: publish every pending purchase whose attempt is due and that
    nobody holds (a message lost with the broker, a worker killed mid-attempt)."""
    due = (
        NumberPurchase.objects.filter(state=PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=Now()))
        .filter(lease_free())
        .values_list("pk", flat=True)[:limit]
    )
    count = 0
    for purchase_id in due:
        publish_purchase(purchase_id)
        count += 1
    return count
