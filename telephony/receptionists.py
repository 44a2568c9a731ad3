"""Writes to a clinic's receptionists and to which receptionist answers each number.

A clinic has one or more receptionists (decision 0064); each of its numbers is answered by
one of them, the first (the oldest) unless assigned otherwise. Every change LiveKit must
follow re-provisions the clinic in the same transaction
(telephony.provisioning_requests).
Errors are ValidationErrors naming the field, raised before anything is saved.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from telephony.models import (
    DEFAULT_GREETING,
    DEFAULT_INSTRUCTIONS,
    FIRST_RECEPTIONIST_NAME,
    FIRST_RECEPTIONIST_SLUG,
    PhoneNumber,
    Receptionist,
)
from telephony.provisioning_requests import request_provisioning
from tenants.models import Clinic
from tenants.text import validate_display_name

MAX_RECEPTIONISTS_PER_CLINIC = 10
MAX_SLUG = 20

AGENT_FIELDS = (
    "agent_name",
    "greeting",
    "instructions",
    "language",
    "voice",
    "stt_model",
    "llm_model",
    "tts_model",
    "recording_consent_required",
)
RECEPTIONIST_FIELDS = ("name", *AGENT_FIELDS)


def _request_provisioning(clinic: Clinic, reason: str) -> None:
    request_provisioning(clinic, reason=reason)


def create_first(clinic: Clinic) -> Receptionist:
    """The receptionist every clinic has from signup (idempotent)."""
    existing = Receptionist.objects.for_clinic(clinic).order_by("id").first()
    if existing is not None:
        return existing
    return Receptionist.objects.create(
        clinic=clinic,
        name=FIRST_RECEPTIONIST_NAME,
        slug=FIRST_RECEPTIONIST_SLUG,
        greeting=DEFAULT_GREETING.format(clinic=clinic.name),
        instructions=DEFAULT_INSTRUCTIONS.format(clinic=clinic.name),
    )


def line_slug(clinic: Clinic, name: str) -> str:
    """The line's slug, from its name: lowercase letters, digits and hyphens, starting with
    a letter (a caller's number, in a room name, never does), unique in the clinic."""
    base = re.sub(r"[^a-z0-9-]+", "-", slugify(name)).strip("-")
    base = re.sub(r"^[^a-z]+", "", base)[:MAX_SLUG].strip("-") or "line"
    taken = set(Receptionist.objects.for_clinic(clinic).values_list("slug", flat=True))
    slug, n = base, 2
    while slug in taken:
        suffix = f"-{n}"
        slug, n = base[: MAX_SLUG - len(suffix)].rstrip("-") + suffix, n + 1
    return slug


def _clean_name(clinic: Clinic, name: Any, *, exclude: int | None = None) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValidationError({"name": "Give the receptionist a name, such as “Spanish line”."})
    validate_display_name(name, field="name")
    cleaned = " ".join(name.split())
    if len(cleaned) > 60:
        raise ValidationError({"name": "Use at most 60 characters."})
    clash = Receptionist.objects.for_clinic(clinic).filter(name__iexact=cleaned)
    if exclude is not None:
        clash = clash.exclude(pk=exclude)
    if clash.exists():
        raise ValidationError(
            {"name": f"This clinic already has a receptionist named “{cleaned}”; pick another."}
        )
    return cleaned


def _check_fields(changes: dict[str, Any]) -> None:
    unknown = set(changes) - set(RECEPTIONIST_FIELDS)
    if unknown:
        raise ValidationError({f: "Unknown field." for f in sorted(unknown)})


def receptionist_create(*, clinic: Clinic, name: str, **fields: Any) -> Receptionist:
    """A new receptionist; settings not given are the platform's defaults."""
    _check_fields(fields)
    if clinic.state == Clinic.State.OFFBOARDED:
        raise ValidationError({"name": "This clinic has been offboarded."})
    with transaction.atomic():
        Clinic.objects.select_for_update(no_key=True).filter(
            pk=clinic.pk
        ).first()  # one add at a time
        if Receptionist.objects.for_clinic(clinic).count() >= MAX_RECEPTIONISTS_PER_CLINIC:
            raise ValidationError(
                {"name": f"A clinic can have at most {MAX_RECEPTIONISTS_PER_CLINIC} receptionists."}
            )
        row = Receptionist(
            clinic=clinic,
            name=_clean_name(clinic, name),
            greeting=DEFAULT_GREETING.format(clinic=clinic.name),
            instructions=DEFAULT_INSTRUCTIONS.format(clinic=clinic.name),
        )
        row.slug = line_slug(clinic, row.name)
        for key, value in fields.items():
            if value is not None:
                setattr(row, key, value)
        row.full_clean(validate_constraints=False)
        try:
            with transaction.atomic():
                row.save()
        except IntegrityError:  # the same name, added at the same moment
            raise ValidationError(
                {"name": "This clinic already has a receptionist by that name; pick another."}
            ) from None
        _request_provisioning(clinic, f"receptionist “{row.name}” added")
    return row


def receptionist_update(*, receptionist: Receptionist, **changes: Any) -> Receptionist:
    """Change a receptionist's settings; a real change bumps its version. None leaves a
    field as it is."""
    _check_fields(changes)
    clinic = receptionist.clinic
    with transaction.atomic():
        row = Receptionist.objects.select_for_update(of=("self",)).get(
            pk=receptionist.pk, clinic=clinic
        )
        changed = False
        for key, value in changes.items():
            if value is None:
                continue
            if key == "name":
                value = _clean_name(clinic, value, exclude=row.pk)
            if getattr(row, key) != value:
                setattr(row, key, value)
                changed = True
        if not changed:
            return row
        row.version += 1
        row.full_clean(validate_constraints=False)
        row.save()
        _request_provisioning(clinic, f"receptionist “{row.name}” changed (v{row.version})")
    return row


def receptionist_delete(*, receptionist: Receptionist, move_to: Receptionist | None = None) -> None:
    """Delete a receptionist; its numbers go to `move_to` (the clinic's first other
    receptionist when not given). A clinic keeps at least one."""
    clinic = receptionist.clinic
    with transaction.atomic():
        rows = list(
            Receptionist.objects.for_clinic(clinic).select_for_update(of=("self",)).order_by("id")
        )
        others = [r for r in rows if r.pk != receptionist.pk]
        if len(others) == len(rows):
            raise ValidationError({"receptionist": "This receptionist no longer exists."})
        if not others:
            raise ValidationError(
                {
                    "receptionist": "A clinic needs at least one receptionist: add another "
                    "one first, or edit this one instead."
                }
            )
        target = others[0]
        if move_to is not None:
            target = next((r for r in others if r.pk == move_to.pk), None)
            if target is None:
                raise ValidationError(
                    {"move_to": "Choose another receptionist of this clinic for its numbers."}
                )
        # Saved one by one, so that the audit log has an entry per number moved.
        for phone in PhoneNumber.objects.filter(receptionist=receptionist).select_for_update():
            phone.receptionist = target
            phone.save(update_fields=["receptionist"])
        Receptionist.objects.filter(pk=receptionist.pk).get().delete()
        _request_provisioning(
            clinic, f"receptionist “{receptionist.name}” deleted; numbers to “{target.name}”"
        )


def receptionist_of(
    clinic: Clinic, value: Any, *, field: str = "receptionist", lock: bool = False
) -> Receptionist:
    """The clinic's receptionist with id `value`, or a ValidationError naming `field`.
    `lock` (inside a transaction): hold its row, so that it is not deleted meanwhile."""
    if isinstance(value, bool):
        value = None
    try:
        key = int(value)
    except (TypeError, ValueError):
        raise ValidationError(
            {field: "Give the id of one of this clinic's receptionists."}
        ) from None
    rows = Receptionist.objects.for_clinic(clinic)
    row = (rows.select_for_update(of=("self",)) if lock else rows).filter(pk=key).first()
    if row is None:
        raise ValidationError(
            {field: f"{key} is not one of this clinic's receptionists (see receptionists/)."}
        )
    return row


def phone_number_assign(*, clinic: Clinic, e164: str, receptionist: Any) -> PhoneNumber:
    """Make `receptionist` (an id or a row of this clinic) answer the number."""
    with transaction.atomic():
        target = receptionist_of(clinic, getattr(receptionist, "pk", receptionist), lock=True)
        phone = PhoneNumber.objects.for_clinic(clinic).select_for_update().filter(e164=e164).first()
        if phone is None:
            raise ValidationError({"e164": f"{e164} is not one of this clinic's numbers."})
        if phone.receptionist_id == target.pk:
            return phone
        phone.receptionist = target
        phone.save(update_fields=["receptionist"])
        _request_provisioning(clinic, f"number {e164} now answered by “{target.name}”")
    return phone
