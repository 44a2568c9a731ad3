"""Releasing a number Switchboard bought: it goes back to the carrier, leaves the clinic's
account and stops costing money; it cannot be recovered (docs/decisions/0165).

``release_start`` needs an explicit confirmation, takes the number off the clinic (if it is
still one of its numbers) and writes a ``NumberRelease`` in one transaction, then publishes
the release task (telephony/release_runner.py). One release per purchase underway or done:
a repeat answers it. Numbers the clinic brought itself are never released, only removed.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from audit.recorder import record
from telephony.models import NumberPurchase, NumberRelease, PhoneNumber
from telephony.number_purchases import connected_account
from telephony.services import phone_number_remove
from telephony.task_names import RELEASE_NUMBER
from telephony.validators import normalize_e164
from tenants.models import Clinic, User

logger = logging.getLogger(__name__)
UNDERWAY_OR_DONE = [NumberRelease.State.PENDING, NumberRelease.State.RELEASED]
RELEASE_SENTENCE = (
    "{e164} goes back to {carrier}: it leaves your {carrier} account, stops costing money, and "
    "cannot be recovered. Callers who dial it will no longer reach your receptionist."
)


def release_words(carrier: str, e164: str) -> str:
    """What the confirmation says a release does."""
    return RELEASE_SENTENCE.format(e164=e164, carrier=carrier)


def releasable(clinic: Clinic) -> QuerySet[NumberPurchase]:
    """The numbers Switchboard bought for the clinic that are not released (nor being)."""
    return (
        NumberPurchase.objects.for_clinic(clinic)
        .filter(state=NumberPurchase.State.BOUGHT)
        .exclude(releases__state__in=UNDERWAY_OR_DONE)
    )


def _existing(clinic: Clinic, e164: str) -> NumberRelease | None:
    """The release underway or done of the number's latest purchase (a number released and
    bought again is a new purchase, released anew)."""
    latest = (
        NumberPurchase.objects.for_clinic(clinic)
        .filter(e164=e164, state__in=[NumberPurchase.State.BOUGHT, NumberPurchase.State.RELEASED])
        .order_by("-created_at")
        .first()
    )
    if latest is None:
        return None
    return latest.releases.filter(state__in=UNDERWAY_OR_DONE).first()


def _bought(clinic: Clinic, e164: str) -> NumberPurchase:
    purchase = releasable(clinic).filter(e164=e164).first()
    if purchase is not None:
        return purchase
    if PhoneNumber.objects.for_clinic(clinic).filter(e164=e164).exists():
        raise ValidationError(
            {
                "e164": f"Switchboard did not buy {e164}, so it does not release it: remove it "
                "from your numbers instead (it stays in your carrier account)."
            }
        )
    raise ValidationError({"e164": f"{e164} is not a number Switchboard bought for this clinic."})


def release_start(
    *, clinic: Clinic, number: object, confirm_release: object, actor: User | None = None
) -> tuple[NumberRelease, bool]:
    """Take a bought number off the clinic and release it at the carrier; (release, created).
    A number being released or released already answers that release."""
    try:
        e164 = normalize_e164(number, None)
    except ValidationError as exc:
        raise ValidationError({"e164": exc.messages}) from None
    existing = _existing(clinic, e164)
    if existing is not None:
        return existing, False
    purchase = _bought(clinic, e164)
    if confirm_release is not True:
        raise ValidationError(
            {
                "confirm_release": f"Releasing gives {e164} back to the carrier for good: "
                "confirm that it cannot be recovered (confirm_release: true)."
            }
        )
    account = connected_account(clinic)
    if account.provider != purchase.provider:
        raise ValidationError(
            f"{e164} was bought in a {purchase.provider.title()} account: connect that account "
            "to release it."
        )
    try:
        with transaction.atomic():
            if PhoneNumber.objects.for_clinic(clinic).filter(e164=e164).exists():
                phone_number_remove(clinic=clinic, e164=e164)
            release = NumberRelease.objects.create(
                clinic=clinic,
                purchase=purchase,
                provider=purchase.provider,
                e164=e164,
                requested_by=actor if getattr(actor, "is_authenticated", False) else None,
                status_message=f"Releasing {e164} at {account.get_provider_display()}.",
                next_attempt_at=_grace(),
            )
            _audit(release, actor)
            publish_release(release.pk)
    except IntegrityError:  # the same release, committed by a concurrent request
        existing = _existing(clinic, e164)
        if existing is None:
            raise
        return existing, False
    return release, True


def release_bought_on_offboarding(*, clinic: Clinic, actor: User | None) -> list[NumberRelease]:
    """When the owner asks for it while offboarding: release every number Switchboard bought
    for the (now offboarded) clinic. Offboarding alone releases nothing (decision 0165)."""
    clinic.refresh_from_db(fields=["state"])
    releases = []
    for purchase in list(releasable(clinic)):
        release, _ = release_start(
            clinic=clinic, number=purchase.e164, confirm_release=True, actor=actor
        )
        releases.append(release)
    return releases


def release_retry(*, clinic: Clinic, release_id: Any, actor: User | None = None) -> NumberRelease:
    """Try a failed release again (the page's Retry)."""
    release = NumberRelease.objects.for_clinic(clinic).filter(pk=release_id).first()
    if release is None:
        raise ValidationError({"release": "No such release in this clinic."})
    if release.state != NumberRelease.State.FAILED:
        return release
    connected_account(clinic)
    try:
        with transaction.atomic():
            release.state = NumberRelease.State.PENDING
            release.status_message = f"Releasing {release.e164} again."
            release.next_attempt_at = _grace()
            release.save(update_fields=["state", "status_message", "next_attempt_at", "updated_at"])
            _audit(release, actor, retry=True)
            publish_release(release.pk)
    except IntegrityError:  # released (or being) by a newer release of the same purchase
        release.refresh_from_db()
    return release


def _audit(release: NumberRelease, actor: User | None, retry: bool = False) -> None:
    record(
        "carrier.number_release",
        clinic=release.clinic,
        target=release,
        actor=actor,
        extra={"e164": release.e164, "provider": release.provider, "retry": retry},
    )


def _grace() -> Any:
    return timezone.now() + timedelta(seconds=float(settings.PURCHASE_SWEEP_GRACE_SECONDS))


def publish_release(release_id: Any, countdown: float | None = None) -> None:
    """Publish the release task when the transaction commits; the release sweeper
    (telephony.sweep_releases) is the outbox when the broker is down."""

    def send() -> None:
        try:
            current_app.signature(RELEASE_NUMBER, args=[str(release_id)]).apply_async(
                countdown=countdown
            )
        except Exception:  # the broker is down: the sweeper publishes it later
            logger.warning("could not enqueue release %s; the sweeper will", release_id)

    transaction.on_commit(send, robust=True)
