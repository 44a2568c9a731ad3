"""Writes to a clinic's hours, its facts and its receptionists' after-hours behaviour.

Everything is checked before anything is saved (errors name the field); each write bumps
the row's version, which the agent config API's ETag carries. Nothing here re-provisions
LiveKit: opening hours are decided at call time (decision 0090).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from frontdesk.hours import clean_closures, clean_weekly, clean_zone
from frontdesk.knowledge import clean_knowledge
from frontdesk.models import AfterHours, FrontDesk
from telephony.models import Receptionist
from tenants.models import Clinic
from tenants.text import clean_text

MAX_GREETING = 500
MAX_INSTRUCTIONS = 4000


def desk_of(clinic: Clinic) -> FrontDesk:
    """The clinic's row; an unsaved empty one (open around the clock, no facts) until the
    first change, so reading never writes."""
    return FrontDesk.objects.filter(clinic=clinic).first() or FrontDesk(clinic=clinic)


def _locked_desk(clinic: Clinic) -> FrontDesk:
    FrontDesk.objects.get_or_create(clinic=clinic)
    return FrontDesk.objects.select_for_update().get(clinic=clinic)


def hours_replace(
    *, clinic: Clinic, timezone: object, weekly: object, closures: object
) -> FrontDesk:
    """Replace the clinic's time zone, weekly hours and closed days as a whole."""
    zone = clean_zone(timezone)
    periods = clean_weekly(weekly)
    days = clean_closures(closures)
    with transaction.atomic():
        desk = _locked_desk(clinic)
        zone_changed = clinic.timezone != zone
        if zone_changed:
            clinic.timezone = zone
            clinic.save(update_fields=["timezone", "updated_at"])
        if (desk.weekly, desk.closures) != (periods, days) or zone_changed:
            desk.weekly, desk.closures = periods, days
            desk.version += 1
            desk.save()
    return desk


def knowledge_update(*, clinic: Clinic, **changes: Any) -> FrontDesk:
    """Change the fields given (the others keep their value)."""
    clean = clean_knowledge(clinic, changes)
    with transaction.atomic():
        desk = _locked_desk(clinic)
        changed = {k: v for k, v in clean.items() if getattr(desk, k) != v}
        if changed:
            for field, value in changed.items():
                setattr(desk, field, value)
            desk.version += 1
            desk.save()
    return desk


def after_hours_of(receptionist: Receptionist) -> AfterHours:
    """The receptionist's row; an unsaved default one (take a message) until the first
    change."""
    found = AfterHours.objects.filter(receptionist=receptionist).first()
    return found or AfterHours(receptionist=receptionist, clinic_id=receptionist.clinic_id)


def after_hours_update(
    *,
    receptionist: Receptionist,
    action: object = None,
    greeting: object = None,
    instructions: object = None,
    route_to: object = None,
    route_to_given: bool = False,
) -> AfterHours:
    """Change what a receptionist does while the clinic is closed. `route_to` is the id of
    another receptionist of the same clinic (None clears it; only read if `route_to_given`)."""
    row = after_hours_of(receptionist)  # the current values, for the checks below
    changes: dict[str, Any] = {}
    if action is not None:
        if action not in AfterHours.Action.values:
            raise ValidationError(
                {"action": [f"Choose one of: {', '.join(AfterHours.Action.values)}."]}
            )
        changes["action"] = action
    if greeting is not None:
        changes["greeting"] = clean_text(greeting, "greeting", MAX_GREETING)
    if instructions is not None:
        changes["instructions"] = clean_text(instructions, "instructions", MAX_INSTRUCTIONS)
    if route_to_given:
        changes["route_to_id"] = _route_target(receptionist, route_to)
    final_action = changes.get("action", row.action)
    final_target = changes.get("route_to_id", row.route_to_id)
    if final_action == AfterHours.Action.ROUTE and final_target is None:
        raise ValidationError(
            {"route_to": ["Choose the receptionist who answers while the clinic is closed."]}
        )
    with transaction.atomic():
        AfterHours.objects.get_or_create(
            receptionist=receptionist, defaults={"clinic_id": receptionist.clinic_id}
        )
        row = AfterHours.objects.select_for_update().get(receptionist=receptionist)
        changed = {k: v for k, v in changes.items() if getattr(row, k) != v}
        if changed:
            for field, value in changed.items():
                setattr(row, field, value)
            row.version += 1
            row.save()
    return row


def _route_target(receptionist: Receptionist, value: object) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise ValidationError({"route_to": ["Send a receptionist's id (a number), or null."]})
    target = int(str(value))
    if target == receptionist.pk:
        raise ValidationError(
            {"route_to": ["Choose another receptionist: this one is the one closing."]}
        )
    if not Receptionist.objects.filter(clinic_id=receptionist.clinic_id, pk=target).exists():
        raise ValidationError({"route_to": ["No such receptionist in this clinic."]})
    return target
