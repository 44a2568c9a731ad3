"""One attempt at releasing a bought number, as the release task runs it
(docs/decisions/0165).

The attempt holds the release's lease (database clock). It first reads the number's ID in
the account and commits it; every delete names that ID, so a retry after a lost reply
deletes nothing else: the carrier's 404 for it means the earlier delete went through. A
number the account no longer has is released already. Transient failures retry with
backoff (Retry-After honoured) without a limit; a refusal fails the release, visibly, with
Retry on the page and in the API.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone

from audit.recorder import record
from telephony.carriers import (
    CarrierCredentialsError,
    CarrierError,
    CarrierNotFoundError,
    CarrierTransientError,
)
from telephony.models import CarrierAccount, NumberPurchase, NumberRelease
from telephony.number_purchases import _buyer
from telephony.number_releases import publish_release
from telephony.provisioning.lease import lease_free
from telephony.purchase_runner import Outcome, _backoff

logger = logging.getLogger(__name__)
PENDING = NumberRelease.State.PENDING


def _save(release: NumberRelease, *fields: str) -> None:
    release.save(update_fields=[*fields, "updated_at"])


def run_release(release_id: Any) -> Outcome:
    lease = timedelta(seconds=settings.PURCHASE_LEASE_SECONDS)
    taken = (
        NumberRelease.objects.filter(pk=release_id, state=PENDING)
        .filter(lease_free())
        .update(lease_until=Now() + lease)
    )
    if taken != 1:
        row = NumberRelease.objects.filter(pk=release_id).first()
        if row is None or row.state != PENDING:
            return Outcome(row.state if row is not None else "gone")
        return Outcome("busy")  # its holder's own retry (or the sweeper) carries on
    release = NumberRelease.objects.select_related("clinic").get(pk=release_id)
    try:
        return _attempt(release)
    finally:
        NumberRelease.objects.filter(pk=release.pk).update(lease_until=None)


def _attempt(release: NumberRelease) -> Outcome:
    account = CarrierAccount.objects.filter(clinic_id=release.clinic_id).first()
    if account is None or account.state == CarrierAccount.State.DISCONNECTING:
        return _fail(
            release,
            f"The carrier account was disconnected: connect it again and press Retry, or "
            f"release {release.e164} in your carrier account.",
        )
    if account.state == CarrierAccount.State.CREDENTIALS_REJECTED:
        return _fail(release, f"Not released: {account.status_message} Connect the account "
                     "again, then press Retry.")  # fmt: skip
    buyer = _buyer(account)
    carrier = account.get_provider_display()
    try:
        if not release.carrier_id:
            carrier_id = buyer.owned(e164=release.e164)
            if not carrier_id:
                return _released(release, f"{release.e164} was no longer in your {carrier} "
                                 "account: nothing more to release.")  # fmt: skip
            release.carrier_id = carrier_id
            _save(release, "carrier_id")  # committed before the delete
        release.attempts += 1
        release.deletes_sent += 1
        _save(release, "attempts", "deletes_sent")
        # A 404 for this ID: an earlier delete whose reply was lost, or released by hand.
        with contextlib.suppress(CarrierNotFoundError):
            buyer.release(carrier_id=release.carrier_id)
        return _released(release, f"Released {release.e164}: it is no longer in your "
                         f"{carrier} account and costs nothing more.")  # fmt: skip
    except CarrierTransientError as exc:
        return _later(release, exc.message, exc.retry_after)
    except CarrierCredentialsError as exc:
        CarrierAccount.objects.filter(pk=account.pk).update(
            state=CarrierAccount.State.CREDENTIALS_REJECTED, status_message=exc.message
        )
        return _fail(release, f"Not released: {exc.message} Connect the account again, then "
                     "press Retry.")  # fmt: skip
    except CarrierError as exc:
        return _fail(release, f"{carrier} refused to release it: {exc.message}")


def _later(release: NumberRelease, words: str, retry_after: float | None) -> Outcome:
    delay = _backoff(max(1, release.attempts), retry_after)
    release.status_message = words[:300]
    grace = float(settings.PURCHASE_SWEEP_GRACE_SECONDS)
    release.next_attempt_at = timezone.now() + timedelta(seconds=delay + grace)
    _save(release, "status_message", "next_attempt_at")
    return Outcome(PENDING, retry_in=delay)


def _fail(release: NumberRelease, words: str) -> Outcome:
    release.state = NumberRelease.State.FAILED
    release.status_message = words[:300]
    _save(release, "state", "status_message")
    record(
        "carrier.number_release_failed",
        clinic=release.clinic,
        target=release,
        extra={"e164": release.e164, "provider": release.provider, "reason": words[:300]},
    )
    return Outcome(release.state)


def _released(release: NumberRelease, words: str) -> Outcome:
    with transaction.atomic():
        release.state = NumberRelease.State.RELEASED
        release.status_message = words[:300]
        _save(release, "state", "status_message", "carrier_id")
        # The purchase is undone: the number may be bought again (decision 0110's index).
        NumberPurchase.objects.filter(pk=release.purchase_id).update(
            state=NumberPurchase.State.RELEASED, updated_at=timezone.now()
        )
        record(
            "carrier.number_released",
            clinic=release.clinic,
            target=release,
            extra={"e164": release.e164, "provider": release.provider, "id": release.carrier_id},
        )
    return Outcome(release.state)


def sweep_releases(limit: int = 200) -> int:
    """The releases' outbox: publish every pending release that is due and nobody holds."""
    due = (
        NumberRelease.objects.filter(state=PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=Now()))
        .filter(lease_free())
        .values_list("pk", flat=True)[:limit]
    )
    count = 0
    for release_id in due:
        publish_release(release_id)
        count += 1
    return count
