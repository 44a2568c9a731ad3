"""Writes to a clinic's telephony setup. Every change LiveKit must follow bumps the
clinic's provisioning generation in the same transaction and enqueues reconcile on commit
(telephony/publishing.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.recorder import record
from telephony.models import (
    PhoneNumber,
    Provisioning,
    ProvisioningEvent,
    Receptionist,
    TrunkSettings,
)
from telephony.provisioning_requests import request_provisioning
from telephony.publishing import enqueue_reconcile
from telephony.receptionists import (
    AGENT_FIELDS,
    create_first,
    receptionist_of,
    receptionist_update,
)
from telephony.validators import normalize_e164, validate_address
from tenants.models import Clinic, User
from tenants.text import validate_display_name
from tenants.timezones import clinic_region

logger = logging.getLogger(__name__)

MAX_NUMBERS_PER_CLINIC = 50
MAX_ADDRESSES = 20


class ProvisioningError(Exception):
    """A request that cannot be carried out now, with a sentence for the person."""

    def __init__(self, message: str, field: str = "non_field_errors") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


# --- provisioning requests ----------------------------------------------------------------


def provisioning_retry(*, clinic: Clinic, actor: User | None = None) -> None:
    """Retry after a failure (or now, instead of at the next backoff)."""
    with transaction.atomic():
        prov = Provisioning.objects.select_for_update().get(clinic=clinic)
        if prov.converged and prov.state != Provisioning.State.FAILED:
            return
        prov.state = (
            Provisioning.State.DEPROVISIONING
            if clinic.state == Clinic.State.OFFBOARDED
            else Provisioning.State.PENDING
        )
        prov.attempts = 0
        prov.rate_limited_runs = 0
        prov.next_attempt_at = timezone.now()
        fields = ["state", "attempts", "rate_limited_runs", "next_attempt_at", "updated_at"]
        prov.save(update_fields=fields)
        ProvisioningEvent.objects.create(clinic=clinic, action="retry_requested", actor=actor)
        enqueue_reconcile(clinic)


def provisioning_reprovision(*, clinic: Clinic, actor: User | None = None) -> None:
    """Operator action: reconcile now and verify LiveKit's objects, not just our record."""
    with transaction.atomic():
        request_provisioning(clinic, reason="re-provision requested", actor=actor, verify=True)


# --- setup --------------------------------------------------------------------------------


def telephony_setup_defaults(*, clinic: Clinic) -> None:
    """The rows every clinic has from signup: provisioning, carrier settings and its first
    receptionist."""
    Provisioning.objects.get_or_create(clinic=clinic)
    TrunkSettings.objects.get_or_create(clinic=clinic)
    create_first(clinic)


def phone_number_add(
    *, clinic: Clinic, number: object, label: str = "", receptionist: object = None
) -> PhoneNumber:
    """Add a number; one typed without + and a country code is read in the clinic's country.
    It is answered by `receptionist` (an id of this clinic's), else by the first."""
    try:
        e164 = normalize_e164(number, clinic_region(clinic))
    except ValidationError as exc:
        raise ValidationError({"e164": exc.messages}) from None
    if clinic.state == Clinic.State.OFFBOARDED:
        raise ValidationError({"e164": "This clinic has been offboarded."})
    if PhoneNumber.objects.filter(e164=e164).exists():
        raise ValidationError({"e164": _taken_message(clinic, e164)}, code="taken")
    if PhoneNumber.objects.for_clinic(clinic).count() >= MAX_NUMBERS_PER_CLINIC:
        raise ValidationError(
            {"e164": f"A clinic can have at most {MAX_NUMBERS_PER_CLINIC} numbers."}
        )
    validate_display_name(label, field="label")
    from telephony.carrier_services import refusal_for_number

    refused = refusal_for_number(clinic=clinic, e164=e164)
    if refused:
        raise ValidationError({"e164": refused}, code="carrier")
    if receptionist is not None:
        receptionist_of(clinic, receptionist)  # the error before anything else
    try:
        with transaction.atomic():
            answering = (
                receptionist_of(clinic, receptionist, lock=True)
                if receptionist is not None
                else Receptionist.objects.select_for_update(of=("self",)).first_of(clinic)
            )
            phone = PhoneNumber(
                clinic=clinic, receptionist=answering, e164=e164, label=label.strip()
            )
            phone.full_clean(validate_unique=False)
            phone.save()
            request_provisioning(clinic, reason=f"number {e164} added")
    except IntegrityError:
        # Another clinic claimed the number between the check and the insert.
        raise ValidationError({"e164": _taken_message(clinic, e164)}, code="taken") from None
    return phone


def _taken_message(clinic: Clinic, e164: str) -> str:
    if PhoneNumber.objects.filter(e164=e164, clinic=clinic).exists():
        return f"{e164} is already one of this clinic's numbers."
    return (
        f"{e164} is already registered to another clinic on Switchboard. If it is yours, "
        "contact support."
    )


def phone_number_remove(*, clinic: Clinic, e164: str) -> None:
    with transaction.atomic():
        numbers = PhoneNumber.objects.for_clinic(clinic).select_for_update()
        phone = numbers.filter(e164=e164).first()
        if phone is None:
            raise ValidationError({"e164": f"{e164} is not one of this clinic's numbers."})
        if clinic.state == Clinic.State.LIVE and numbers.count() == 1:
            raise ValidationError(
                {
                    "e164": "A live clinic needs at least one number. Add the new number "
                    "first, or offboard the clinic."
                }
            )
        phone.delete()
        request_provisioning(clinic, reason=f"number {e164} removed")


def trunk_settings_update(
    *,
    clinic: Clinic,
    allowed_addresses: Iterable[str] | None = None,
    auth_username: str | None = None,
    auth_password: str | None = None,
    krisp_enabled: bool | None = None,
) -> TrunkSettings:
    """None leaves a field as it is; an empty password with a username keeps the old one."""
    with transaction.atomic():
        ts, _ = TrunkSettings.objects.select_for_update().get_or_create(clinic=clinic)
        before = _trunk_fields(ts)
        old_password = ts.auth_password
        if allowed_addresses is not None:
            addresses = list(allowed_addresses)
            if len(addresses) > MAX_ADDRESSES:
                raise ValidationError({"allowed_addresses": f"At most {MAX_ADDRESSES} addresses."})
            errors: list[str] = []
            cleaned: list[str] = []
            for raw in addresses:
                try:
                    cleaned.append(validate_address(str(raw)))
                except ValidationError as exc:
                    errors.extend(exc.messages)
            if errors:
                raise ValidationError({"allowed_addresses": errors})
            ts.allowed_addresses = sorted(set(cleaned))
        if auth_username is not None:
            validate_display_name(auth_username, field="auth_username")
            ts.auth_username = auth_username.strip()
            if not ts.auth_username:
                ts.auth_password = ""
        if auth_password:
            ts.auth_password = auth_password
        if ts.auth_username and not ts.auth_password:
            raise ValidationError(
                {"auth_password": "Set a password for the SIP username, or clear the username."}
            )
        if krisp_enabled is not None:
            ts.krisp_enabled = krisp_enabled
        ts.full_clean()
        if _trunk_fields(ts) == before:
            return ts
        ts.save()
        if ts.auth_password != old_password:
            _audit_password_change(clinic, ts, old_password)
        request_provisioning(clinic, reason="carrier settings changed")
    return ts


def _audit_password_change(clinic: Clinic, ts: TrunkSettings, old_password: str) -> None:
    """The audit log says that the password changed, never what it was or became."""
    set_or_not = ["set" if old_password else "not set", "set" if ts.auth_password else "not set"]
    record(
        "carrier.password_changed", clinic=clinic, target=ts, changes={"auth_password": set_or_not}
    )


def _trunk_fields(ts: TrunkSettings) -> tuple[object, ...]:
    return (ts.allowed_addresses, ts.auth_username, ts.auth_password, ts.krisp_enabled)


def agent_config_update(*, clinic: Clinic, **changes: Any) -> Receptionist:
    """Change the clinic's first receptionist (the agent settings page and endpoint)."""
    unknown = set(changes) - set(AGENT_FIELDS)
    if unknown:
        raise ValidationError({f: "Unknown field." for f in sorted(unknown)})
    return receptionist_update(receptionist=Receptionist.objects.first_of(clinic), **changes)


def go_live_blockers(clinic: Clinic, user: User | None = None) -> list[str]:
    """What stops the clinic going live, in words the clinic admin can act on."""
    from django.conf import settings

    blockers = []
    if not PhoneNumber.objects.for_clinic(clinic).exists():
        blockers.append("Add at least one phone number.")
    if not Receptionist.objects.for_clinic(clinic).exists():
        blockers.append("Configure the receptionist agent.")
    if settings.REQUIRE_EMAIL_VERIFICATION and user is not None and not user.email_verified:
        blockers.append("Verify your email address (check your inbox for the link).")
    if clinic.state == Clinic.State.OFFBOARDED:
        blockers.append("This clinic has been offboarded.")
    return blockers


def clinic_go_live(*, clinic: Clinic, actor: User | None) -> None:
    blockers = go_live_blockers(clinic, actor)
    if blockers:
        raise ProvisioningError(" ".join(blockers))
    _transition(clinic, to=Clinic.State.LIVE, reason="go live", actor=actor)


def clinic_offboard(*, clinic: Clinic, actor: User | None) -> None:
    """Delete the clinic's LiveKit objects (rule, then trunk) and its carrier trunk; numbers
    Switchboard bought stay in the carrier account (telephony/number_releases.py)."""
    if clinic.state == Clinic.State.OFFBOARDED:
        return
    _transition(clinic, to=Clinic.State.OFFBOARDED, reason="offboard", actor=actor)


def clinic_suspend(*, clinic: Clinic, actor: User | None) -> None:
    """Remove the dispatch rule so calls stop; keep the trunk and all data."""
    _transition(
        clinic,
        to=Clinic.State.SUSPENDED,
        reason="suspend",
        actor=actor,
        allowed_from=(Clinic.State.LIVE,),
        refusal="Only a live clinic can be suspended.",
    )


def clinic_resume(*, clinic: Clinic, actor: User | None) -> None:
    _transition(
        clinic,
        to=Clinic.State.LIVE,
        reason="resume",
        actor=actor,
        allowed_from=(Clinic.State.SUSPENDED,),
        refusal="Only a suspended clinic can be resumed.",
    )


TRANSITION_EVENTS = {
    "go live": "clinic.go_live",
    "offboard": "clinic.offboard",
    "suspend": "clinic.suspend",
    "resume": "clinic.resume",
}


def _transition(
    clinic: Clinic,
    *,
    to: str,
    reason: str,
    actor: User | None,
    allowed_from: tuple[str, ...] | None = None,
    refusal: str = "",
) -> None:
    """Move the clinic to a lifecycle state and re-provision, under a row lock so that two
    transitions at once (an owner and an operator, say) are applied one after the other."""
    with transaction.atomic():
        current = (
            Clinic.objects.select_for_update(no_key=True)
            .values_list("state", flat=True)
            .get(pk=clinic.pk)
        )
        if allowed_from is not None and current not in allowed_from:
            raise ProvisioningError(refusal)
        Clinic.objects.filter(pk=clinic.pk).update(state=to)
        clinic.state = to
        record(
            TRANSITION_EVENTS.get(reason, "clinic.state"),
            clinic=clinic,
            actor=actor,
            changes={"state": [current, to]},
        )
        request_provisioning(clinic, reason=reason, actor=actor)
