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
from frontdesk.models import AfterHours, FrontDesk, Location

# select_related paths for a Receptionist query that feeds `call_time`.
RELATED = ("clinic__front_desk", "after_hours__route_to", "location")
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


def _knowledge(desk: FrontDesk | None, location: Location | None = None) -> dict[str, Any]:
    facts = _clinic_knowledge(desk)
    if location is not None:  # the location's address and directions, where it has them
        for field in ("address", "directions"):
            facts[field] = getattr(location, field) or facts[field]
    return facts


def _clinic_knowledge(desk: FrontDesk | None) -> dict[str, Any]:
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
    state: OpenState,
    desk_version: int,
    after_version: int,
    zone: str,
    today: date,
    location: tuple[int, int] | None = None,
    route: tuple[int, int] | None = None,
) -> str:
    """What the ETag adds for the call-time part (decision 0091); also computed by the pickup
    304 (telephony/api/agent_not_modified.py) from the same rows. `location`: the
    receptionist's location's (id, version), whose facts and hours the answer carries
    (decision 0121); `zone` is the zone the hours were read in. `route`: the after-hours
    route-to receptionist's (id, version), whose name and line the answer shows (a rename
    or a deletion changes the answer, not the routing line's own versions; decision 0145)."""
    change = state.next_change
    parts = [
        f"d{desk_version}",
        f"a{after_version}",
        zone,
        "o" if state.open_now else "c",
        str(int(change.timestamp())) if change else "x",
        today.isoformat(),
    ]
    if location is not None:
        parts.append(f"l{location[0]}v{location[1]}")
    if route is not None:
        parts.append(f"r{route[0]}v{route[1]}")
    return "-".join(parts)


@dataclass(frozen=True)
class LocationRow:
    """A receptionist's location as the pickup 304 reads it (raw column values)."""

    id: int
    version: int
    own_hours: bool
    timezone: str
    weekly: list[dict[str, Any]]
    closures: list[dict[str, Any]]


def etag_part_from_rows(
    desk_version: int | None,
    weekly: list[dict[str, Any]] | None,
    closures: list[dict[str, Any]] | None,
    after_version: int | None,
    zone: str,
    location: LocationRow | None = None,
    route: tuple[int, int] | None = None,
) -> str:
    """The same, from raw column values (no FrontDesk or AfterHours row: None)."""
    now = current_time()
    if location is not None and location.own_hours:
        zone = location.timezone or zone
        weekly, closures = location.weekly, location.closures
    state = open_state(weekly or [], closures or [], zone, now)
    today = now.astimezone(zone_of(zone)).date()
    loc = (location.id, location.version) if location is not None else None
    return etag_part_of(state, desk_version or 0, after_version or 0, zone, today, loc, route)


def _location_out(location: Location | None) -> dict[str, Any] | None:
    if location is None:
        return None
    return {"id": location.pk, "name": location.name, "own_hours": location.own_hours}


def call_time(receptionist: Any, now: datetime | None = None) -> CallTime:
    """The call-time part for this receptionist. When it names a location, the location's
    address and directions, and its hours (in its zone) if it has its own; otherwise, and
    for everything else, the clinic's (decision 0121)."""
    clinic = receptionist.clinic
    desk: FrontDesk | None = _related(clinic, "front_desk")
    after: AfterHours | None = _related(receptionist, "after_hours")
    location: Location | None = _related(receptionist, "location")
    now = now or current_time()
    weekly = desk.weekly if desk else []
    closures = desk.closures if desk else []
    zone = clinic.timezone
    if location is not None and location.own_hours:
        weekly, closures = location.weekly, location.closures
        zone = location.timezone or clinic.timezone
    state: OpenState = open_state(weekly, closures, zone, now)
    today = now.astimezone(zone_of(zone)).date()
    payload = {
        "open_now": state.open_now,
        "open_until": _iso(state.open_until),
        "opens_at": _iso(state.opens_at),
        "timezone": zone,
        "hours": {
            "set": bool(weekly),
            "weekly": weekly_out(weekly),
            "closures": _upcoming(closures, today),
        },
        "location": _location_out(location),
        "after_hours": _after_hours(after),
        "knowledge": _knowledge(desk, location),
    }
    etag_part = etag_part_of(
        state,
        desk.version if desk else 0,
        after.version if after else 0,
        zone,
        today,
        (location.pk, location.version) if location is not None else None,
        _route_of(after),
    )
    return CallTime(payload, etag_part)


def _route_of(after: AfterHours | None) -> tuple[int, int] | None:
    """The route-to receptionist the answer shows, as (id, version); None when none is."""
    if after is None or after.action != AfterHours.Action.ROUTE or after.route_to is None:
        return None
    return (after.route_to.pk, after.route_to.version)
