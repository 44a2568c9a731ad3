"""A clinic's locations: checking and writing them, and which receptionist answers for which.

A location has a name, its address and directions, and optionally its own opening hours
(weekly periods and closed days, in its own time zone or the clinic's). A receptionist names
at most one location; the agent config API then answers with that location's address and
directions and decides open or closed from its hours if it has them (frontdesk.config).
Like the clinic's hours, nothing here touches LiveKit (decision 0090): a location change
bumps the location's `version`, which the config ETag carries (decision 0121).

Every check runs before anything is saved; errors name the field (`hours.weekly[2].closes`).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from frontdesk.hours import clean_closures, clean_weekly, clean_zone, weekly_out
from frontdesk.knowledge import TEXT_LIMITS
from frontdesk.models import Location
from telephony.models import Receptionist
from tenants.models import Clinic
from tenants.text import clean_text, validate_display_name

MAX_LOCATIONS_PER_CLINIC = 20
FIELDS = ("name", "address", "directions", "hours")
HOURS_FIELDS = ("timezone", "weekly", "closures")


def _prefixed(exc: ValidationError, prefix: str) -> ValidationError:
    return ValidationError({f"{prefix}.{k}": v for k, v in exc.message_dict.items()})


def _clean_name(clinic: Clinic, value: object, exclude: int | None) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError({"name": ["Give the location a name, such as “Downtown”."]})
    validate_display_name(value, field="name")
    name = " ".join(value.split())
    if len(name) > 60:
        raise ValidationError({"name": ["Use at most 60 characters."]})
    clash = Location.objects.filter(clinic=clinic, name__iexact=name)
    if exclude is not None:
        clash = clash.exclude(pk=exclude)
    if clash.exists():
        raise ValidationError(
            {"name": [f"This clinic already has a location named “{name}”; pick another."]}
        )
    return name


def clean_hours(value: object) -> dict[str, Any]:
    """`hours`: null (follow the clinic's hours) or {"timezone", "weekly", "closures"} with
    the shape of the clinic's hours; `timezone` null or left out means the clinic's zone."""
    if value is None:
        return {"own_hours": False, "timezone": "", "weekly": [], "closures": []}
    if not isinstance(value, dict):
        raise ValidationError(
            {"hours": ['Send null, or {"timezone", "weekly", "closures"} like hours/.']}
        )
    unknown = sorted(set(value) - set(HOURS_FIELDS))
    if unknown:
        raise ValidationError(
            {f"hours.{unknown[0]}": ["Unknown field; send timezone, weekly and closures."]}
        )
    for field in ("weekly", "closures"):
        if field not in value:
            raise ValidationError(
                {f"hours.{field}": ["This field is required (send [] for none)."]}
            )
    zone = value.get("timezone")
    try:
        return {
            "own_hours": True,
            "timezone": "" if zone is None or zone == "" else clean_zone(zone),
            "weekly": clean_weekly(value["weekly"]),
            "closures": clean_closures(value["closures"]),
        }
    except ValidationError as exc:
        raise _prefixed(exc, "hours") from None


def clean_location(clinic: Clinic, data: dict[str, Any], *, exclude: int | None = None) -> dict:
    """The fields given, checked; model field names as keys."""
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise ValidationError({unknown[0]: [f"Unknown field; the fields are {', '.join(FIELDS)}."]})
    clean: dict[str, Any] = {}
    if "name" in data:
        clean["name"] = _clean_name(clinic, data["name"], exclude)
    for field in ("address", "directions"):
        if field in data:
            clean[field] = clean_text(data[field], field, TEXT_LIMITS[field])
    if "hours" in data:
        clean.update(clean_hours(data["hours"]))
    return clean


def location_create(*, clinic: Clinic, **data: Any) -> Location:
    if "name" not in data:
        raise ValidationError({"name": ["Give the location a name, such as “Downtown”."]})
    clean = clean_location(clinic, data)
    with transaction.atomic():
        Clinic.objects.select_for_update(no_key=True).filter(
            pk=clinic.pk
        ).first()  # one add at a time
        if Location.objects.filter(clinic=clinic).count() >= MAX_LOCATIONS_PER_CLINIC:
            raise ValidationError(
                {"name": [f"A clinic can have at most {MAX_LOCATIONS_PER_CLINIC} locations."]}
            )
        try:
            with transaction.atomic():
                return Location.objects.create(clinic=clinic, **clean)
        except IntegrityError:  # the same name, added at the same moment
            raise ValidationError(
                {"name": ["This clinic already has a location by that name; pick another."]}
            ) from None


def location_update(*, location: Location, **data: Any) -> Location:
    """Change the fields given; `hours` replaces the location's hours as a whole."""
    clean = clean_location(location.clinic, data, exclude=location.pk)
    with transaction.atomic():
        row = Location.objects.select_for_update().get(pk=location.pk)
        changed = {k: v for k, v in clean.items() if getattr(row, k) != v}
        if changed:
            for field, value in changed.items():
                setattr(row, field, value)
            row.version += 1
            try:
                with transaction.atomic():
                    row.save()
            except IntegrityError:
                raise ValidationError(
                    {"name": ["This clinic already has a location by that name; pick another."]}
                ) from None
    return row


def location_delete(*, location: Location) -> None:
    """Its receptionists answer with the clinic's facts and hours again (SET_NULL)."""
    with transaction.atomic():
        Location.objects.filter(pk=location.pk).delete()


def location_of(clinic: Clinic, value: object, *, field: str = "location") -> Location | None:
    """The clinic's location with id `value`; None for null; else a ValidationError."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not str(value).isdigit() or len(str(value)) > 18:
        raise ValidationError({field: ["Send a location's id (a number), or null."]})
    row = Location.objects.filter(clinic=clinic, pk=int(str(value))).first()
    if row is None:
        raise ValidationError(
            {field: [f"{value} is not one of this clinic's locations (see locations/)."]}
        )
    return row


def receptionist_location_set(*, receptionist: Receptionist, location: Location | None) -> None:
    """Name the location a receptionist answers for (None: the clinic as a whole). Not a
    settings change LiveKit follows: its version stays (decision 0121)."""
    if location is not None and location.clinic_id != receptionist.clinic_id:
        raise ValidationError({"location": ["Choose one of this clinic's locations."]})
    wanted = location.pk if location else None
    with transaction.atomic():
        row = Receptionist.objects.select_for_update(of=("self",)).get(pk=receptionist.pk)
        if row.location_id != wanted:
            row.location_id = wanted
            row.save(update_fields=["location", "updated_at"])
    receptionist.location_id = wanted


def hours_out(row: Location) -> dict[str, Any] | None:
    if not row.own_hours:
        return None
    return {
        "timezone": row.timezone or None,
        "weekly": weekly_out(row.weekly),
        "closures": row.closures,
    }


def location_out(row: Location, receptionist_ids: list[int]) -> dict[str, Any]:
    return {
        "id": row.pk,
        "name": row.name,
        "address": row.address,
        "directions": row.directions,
        "hours": hours_out(row),
        "receptionists": receptionist_ids,
    }
