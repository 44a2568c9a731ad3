"""The call-time part of the agent config API's answer: open or closed now and the next
change, what to do when closed, and what the receptionist knows about the clinic.

Computed on every request from rows the pickup query already joined (no extra query when
they were selected with `RELATED`). The ETag part names everything that changes the answer,
including the next opening or closing instant, so a cached copy (a 304) is never used
across a change from open to closed (decision 0091).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.utils import timezone as dj_timezone

from frontdesk.hours import OpenState, open_state, weekly_out, zone_of
from frontdesk.models import AfterHours, FrontDesk

# select_related paths for a Receptionist query that feeds `call_time`.
RELATED = ("clinic__front_desk", "after_hours__route_to")
UPCOMING_CLOSURES = 30


def current_time() -> datetime:
    """The instant the decision is made for (a seam for tests)."""
    return dj_timezone.now()


def _related(obj: Any, name: str) -> Any:
    try:
        return getattr(obj, name)
    except ObjectDoesNotExist:
        return None


@dataclass(frozen=True)
class CallTime:
    payload: dict[str, Any]
    etag_part: str


def _knowledge(desk: FrontDesk | None) -> dict[str, Any]:
    if desk is None:
        return {
            "address": "",
            "directions": "",
            "services": [],
            "insurers": [],
            "languages": [],
            "emergency_number": "",
            "faqs": [],
        }
    return {
        "address": desk.address,
        "directions": desk.directions,
        "services": desk.services,
        "insurers": desk.insurers,
        "languages": desk.languages,
        "emergency_number": desk.emergency_number,
        "faqs": desk.faqs,
    }


def _after_hours(row: AfterHours | None) -> dict[str, Any]:
    if row is None:
        return {"action": "message", "greeting": "", "instructions": "", "route_to": None}
    target = row.route_to if row.action == AfterHours.Action.ROUTE else None
    return {
        # A routed line whose target was deleted takes a message instead.
        "action": row.action if row.action != AfterHours.Action.ROUTE or target else "message",
        "greeting": row.greeting,
        "instructions": row.instructions,
        "route_to": {"id": target.pk, "name": target.name, "line": target.slug} if target else None,
    }


def _iso(at: datetime | None) -> str | None:
    return at.isoformat(timespec="minutes") if at else None


def _upcoming(closures: list[dict[str, Any]], today: date) -> list[dict[str, Any]]:
    since = (today - timedelta(days=1)).isoformat()
    return [c for c in closures if c["date"] >= since][:UPCOMING_CLOSURES]


def etag_part_of(
    state: OpenState, desk_version: int, after_version: int, zone: str, today: date
) -> str:
    """What the ETag adds for the call-time part (decision 0091); also computed by the pickup
    304 (telephony/api/agent_not_modified.py) from the same rows."""
    change = state.next_change
    return "-".join(
        (
            f"d{desk_version}",
            f"a{after_version}",
            zone,
            "o" if state.open_now else "c",
            str(int(change.timestamp())) if change else "x",
            today.isoformat(),
        )
    )


def etag_part_from_rows(
    desk_version: int | None,
    weekly: list[dict[str, Any]] | None,
    closures: list[dict[str, Any]] | None,
    after_version: int | None,
    zone: str,
) -> str:
    """The same, from raw column values (no FrontDesk or AfterHours row: None)."""
    now = current_time()
    state = open_state(weekly or [], closures or [], zone, now)
    today = now.astimezone(zone_of(zone)).date()
    return etag_part_of(state, desk_version or 0, after_version or 0, zone, today)


def call_time(receptionist: Any, now: datetime | None = None) -> CallTime:
    clinic = receptionist.clinic
    desk: FrontDesk | None = _related(clinic, "front_desk")
    after: AfterHours | None = _related(receptionist, "after_hours")
    now = now or current_time()
    weekly = desk.weekly if desk else []
    closures = desk.closures if desk else []
    state: OpenState = open_state(weekly, closures, clinic.timezone, now)
    today = now.astimezone(zone_of(clinic.timezone)).date()
    payload = {
        "open_now": state.open_now,
        "open_until": _iso(state.open_until),
        "opens_at": _iso(state.opens_at),
        "timezone": clinic.timezone,
        "hours": {
            "set": bool(weekly),
            "weekly": weekly_out(weekly),
            "closures": _upcoming(closures, today),
        },
        "after_hours": _after_hours(after),
        "knowledge": _knowledge(desk),
    }
    etag_part = etag_part_of(
        state, desk.version if desk else 0, after.version if after else 0, clinic.timezone, today
    )
    return CallTime(payload, etag_part)
