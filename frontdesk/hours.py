"""Opening hours: reading them from people (validation) and deciding, at an instant, whether
the clinic is open and until when, or when it opens next.

Weekly periods are minutes of the local day in the clinic's time zone; closures are whole
local dates. The decision is made on the real calendar with zoneinfo: a period is placed on
each local date, turned into an instant, and periods that touch (Monday until midnight,
Tuesday from midnight) join into one. Nothing here touches the database.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from typing import Any

from django.core.exceptions import ValidationError

from tenants.timezones import canonical

DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MINUTES_PER_DAY = 24 * 60
MAX_PERIODS = 7 * 4
MAX_CLOSURES = 366
MAX_REASON = 120
# How far ahead "opens at" looks: a clinic closed for longer says only "closed".
HORIZON_DAYS = 35
_HHMM = re.compile(r"^([01][0-9]|2[0-4]):([0-5][0-9])$")


def minutes(value: object, field: str, *, end: bool = False) -> int:
    """ "HH:MM" -> minute of the day; "24:00" only as a closing time (the end of the day)."""
    match = _HHMM.match(value) if isinstance(value, str) else None
    total = int(match.group(1)) * 60 + int(match.group(2)) if match else -1
    if match is None or total > MINUTES_PER_DAY or (total == MINUTES_PER_DAY and not end):
        hint = ' (or "24:00" for midnight at the end of the day)' if end else ""
        raise ValidationError({field: [f'Use a 24-hour time like "09:00" or "17:30"{hint}.']})
    return total


def hhmm(total: int) -> str:
    return f"{total // 60:02d}:{total % 60:02d}"


def clean_zone(value: object) -> str:
    zone = canonical(value)
    if zone is None:
        raise ValidationError(
            {"timezone": ["Use a time zone name from the list, e.g. America/New_York."]}
        )
    return zone


def clean_weekly(rows: object) -> list[dict[str, int]]:
    """[{"day", "opens", "closes"}] with "HH:MM" times -> stored periods, sorted.

    Refused, naming the entry: a day outside 0-6, a closing time not after the opening time
    (hours past midnight go on the next day from "00:00"), and periods of a day that overlap.
    """
    if not isinstance(rows, list):
        raise ValidationError({"weekly": ["Send a list of opening periods (it may be empty)."]})
    if len(rows) > MAX_PERIODS:
        raise ValidationError({"weekly": [f"At most {MAX_PERIODS} opening periods a week."]})
    periods: list[dict[str, int]] = []
    for i, row in enumerate(rows):
        where = f"weekly[{i}]"
        if not isinstance(row, dict) or set(row) != {"day", "opens", "closes"}:
            raise ValidationError(
                {where: ['Each period is {"day": 0-6, "opens": "HH:MM", "closes": "HH:MM"}.']}
            )
        day = row["day"]
        if isinstance(day, bool) or not isinstance(day, int) or not 0 <= day <= 6:
            raise ValidationError({f"{where}.day": ["Use 0 for Monday up to 6 for Sunday."]})
        opens = minutes(row["opens"], f"{where}.opens")
        closes = minutes(row["closes"], f"{where}.closes", end=True)
        if closes <= opens:
            raise ValidationError(
                {
                    f"{where}.closes": [
                        f"{DAY_NAMES[day]}: the closing time must be after the opening time. "
                        'For hours past midnight, close at "24:00" and add the rest to the '
                        'next day from "00:00".'
                    ]
                }
            )
        periods.append({"day": day, "opens": opens, "closes": closes})
    periods.sort(key=lambda p: (p["day"], p["opens"]))
    for before, after in pairwise(periods):
        if before["day"] == after["day"] and after["opens"] < before["closes"]:
            i = periods.index(after)
            raise ValidationError(
                {
                    "weekly": [
                        f"{DAY_NAMES[after['day']]}: {hhmm(before['opens'])}-"
                        f"{hhmm(before['closes'])} and {hhmm(after['opens'])}-"
                        f"{hhmm(after['closes'])} overlap; make them one period or "
                        f"separate them (entry {i})."
                    ]
                }
            )
    return periods


def clean_closures(rows: object) -> list[dict[str, str]]:
    """[{"date": "YYYY-MM-DD", "reason"}] -> stored closures, sorted; one per date."""
    if not isinstance(rows, list):
        raise ValidationError({"closures": ["Send a list of closed days (it may be empty)."]})
    if len(rows) > MAX_CLOSURES:
        raise ValidationError({"closures": [f"At most {MAX_CLOSURES} closed days."]})
    found: dict[str, dict[str, str]] = {}
    for i, row in enumerate(rows):
        where = f"closures[{i}]"
        if not isinstance(row, dict) or not set(row) <= {"date", "reason"} or "date" not in row:
            raise ValidationError({where: ['Each closed day is {"date": "YYYY-MM-DD", "reason"}.']})
        try:
            day = date.fromisoformat(row["date"]) if isinstance(row["date"], str) else None
        except ValueError:
            day = None
        if day is None or len(row["date"]) != 10:
            raise ValidationError({f"{where}.date": ['Use a date like "2026-12-25".']})
        reason = row.get("reason", "")
        if not isinstance(reason, str) or len(reason.strip()) > MAX_REASON:
            raise ValidationError(
                {f"{where}.reason": [f"Use plain text of at most {MAX_REASON} characters."]}
            )
        if day.isoformat() in found:
            raise ValidationError({f"{where}.date": [f"{day.isoformat()} is listed twice."]})
        found[day.isoformat()] = {"date": day.isoformat(), "reason": reason.strip()}
    return [found[k] for k in sorted(found)]


@dataclass(frozen=True)
class OpenState:
    open_now: bool
    open_until: datetime | None  # when open: the next closing (None: open beyond the horizon)
    opens_at: datetime | None  # when closed: the next opening (None: not within the horizon)

    @property
    def next_change(self) -> datetime | None:
        return self.open_until if self.open_now else self.opens_at


ALWAYS = [{"day": d, "opens": 0, "closes": MINUTES_PER_DAY} for d in range(7)]


def _local(day: date, minute: int, zone: zoneinfo.ZoneInfo) -> datetime:
    """The instant a minute of a local day starts ("24:00" is the next day's midnight).
    A time skipped by a DST change reads as the instant after the gap (fold=0)."""
    day, minute = (day + timedelta(days=1), 0) if minute == MINUTES_PER_DAY else (day, minute)
    naive = datetime.combine(day, time(minute // 60, minute % 60))
    # Normalise through UTC so a skipped local time lands on a real instant.
    return naive.replace(tzinfo=zone).astimezone(zoneinfo.ZoneInfo("UTC"))


def _intervals(
    weekly: list[dict[str, Any]], closed: set[str], zone: zoneinfo.ZoneInfo, start: date
) -> list[tuple[datetime, datetime]]:
    spans: list[tuple[datetime, datetime]] = []
    for offset in range(-1, HORIZON_DAYS + 1):
        day = start + timedelta(days=offset)
        if day.isoformat() in closed:
            continue
        for period in weekly:
            if period["day"] == day.weekday():
                spans.append(
                    (_local(day, period["opens"], zone), _local(day, period["closes"], zone))
                )
    spans.sort()
    merged: list[tuple[datetime, datetime]] = []
    for begin, end in spans:
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((begin, end))
    return merged


def zone_of(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(canonical(name) or "UTC")


def open_state(
    weekly: list[dict[str, Any]], closures: list[dict[str, Any]], zone_name: str, now: datetime
) -> OpenState:
    """Open at `now` (an aware instant) or not, and the next change; times in the zone."""
    zone = zone_of(zone_name)
    today = now.astimezone(zone).date()
    closed = {c["date"] for c in closures}
    spans = _intervals(weekly or ALWAYS, closed, zone, today)
    horizon_end = _local(today + timedelta(days=HORIZON_DAYS), 0, zone)
    for begin, end in spans:
        if begin <= now < end:
            until = None if end >= horizon_end else end.astimezone(zone)
            return OpenState(True, until, None)
        if begin > now:
            return OpenState(False, None, begin.astimezone(zone))
    return OpenState(False, None, None)


def weekly_out(weekly: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"day": p["day"], "opens": hhmm(p["opens"]), "closes": hhmm(p["closes"])} for p in weekly
    ]
