"""Time zones a clinic can keep, and the country each one implies.

The list comes from the IANA time zone database as packaged by `tzdata` (a dependency, so
the list is the same on every machine, whatever the OS ships): `zone.tab` names each
canonical zone with its country, `iso3166.tab` names the countries, and the `L` lines of
`tzdata.zi` map the old aliases (US/Eastern, Asia/Calcutta, ...) to the zone they stand for.
Aliases are accepted (a browser may report one) and stored as the canonical zone; the
picker offers canonical zones only, the common ones first (docs/decisions/0040).
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

UTC = "UTC"

# Offered first, in this order, under the names people use for them.
COMMON_ZONES: tuple[tuple[str, str], ...] = (
    ("America/New_York", "Eastern Time (US and Canada)"),
    ("America/Chicago", "Central Time (US and Canada)"),
    ("America/Denver", "Mountain Time (US and Canada)"),
    ("America/Phoenix", "Arizona"),
    ("America/Los_Angeles", "Pacific Time (US and Canada)"),
    ("America/Anchorage", "Alaska"),
    ("Pacific/Honolulu", "Hawaii"),
    ("America/Toronto", "Toronto"),
    ("America/Vancouver", "Vancouver"),
    ("Europe/London", "London"),
    ("Europe/Dublin", "Dublin"),
    ("Europe/Paris", "Paris"),
    ("Europe/Berlin", "Berlin"),
    ("Europe/Madrid", "Madrid"),
    ("Australia/Sydney", "Sydney"),
    ("Australia/Melbourne", "Melbourne"),
    ("Australia/Brisbane", "Brisbane"),
    ("Australia/Perth", "Perth"),
    ("Pacific/Auckland", "Auckland"),
    (UTC, "UTC (no daylight saving)"),
)


@dataclass(frozen=True)
class Zone:
    name: str  # the IANA name, what is stored
    city: str  # "New York"
    country_code: str  # "US"; "" for UTC
    country: str  # "United States"

    @property
    def label(self) -> str:
        where = f"{self.city}, {self.country}" if self.country else self.city
        return f"{where} ({self.name})"


def zone_name(name: str) -> str:
    """A zone as people say it: "Eastern Time (US and Canada)", "Lisbon, Portugal"; the
    stored name itself for one we do not know."""
    common = dict(COMMON_ZONES)
    if name in common:
        return common[name]
    zone = zones().get(name)
    if zone is None:
        return name
    return f"{zone.city}, {zone.country}" if zone.country else zone.city


def _tzdata_text(name: str) -> str:
    return (resources.files("tzdata") / "zoneinfo" / name).read_text(encoding="utf-8")


def _rows(name: str) -> list[list[str]]:
    return [
        line.split("\t")
        for line in _tzdata_text(name).splitlines()
        if line.strip() and not line.startswith("#")
    ]


@cache
def countries() -> dict[str, str]:
    return {row[0]: row[1].strip() for row in _rows("iso3166.tab")}


@cache
def zones() -> dict[str, Zone]:
    """Every canonical zone with its country, sorted by country then city; UTC last."""
    names = countries()
    found: dict[str, Zone] = {}
    for row in _rows("zone.tab"):
        code, name = row[0], row[2]
        city = name.rsplit("/", 1)[-1].replace("_", " ")
        found.setdefault(name, Zone(name, city, code, names.get(code, code)))
    ordered = sorted(found.values(), key=lambda z: (z.country, z.city))
    ordered.append(Zone(UTC, "UTC", "", ""))
    return {z.name: z for z in ordered}


@cache
def aliases() -> dict[str, str]:
    """Old and alternative names -> the zone they are a link to."""
    links = {}
    for line in _tzdata_text("tzdata.zi").splitlines():
        if line.startswith("L "):
            _, target, link = line.split()
            links[link] = target
    return links


def canonical(name: object) -> str | None:
    """The canonical zone for `name` (itself, or what an alias points to), or None."""
    if not isinstance(name, str):
        return None
    name = name.strip()
    known = zones()
    if name in known:
        return name
    seen = 0
    while name in aliases() and seen < 5:  # links point at zones, rarely at other links
        name, seen = aliases()[name], seen + 1
        if name in known:
            return name
    if name in ("Etc/UTC", "Etc/GMT", "GMT", "UCT", "Universal", "Zulu", "Etc/Universal"):
        return UTC
    return None


def country_for_zone(name: str) -> str | None:
    """ISO 3166 code of the country a zone belongs to (for numbers typed without +)."""
    zone = zones().get(canonical(name) or "")
    return zone.country_code if zone and zone.country_code else None


def clinic_region(clinic: Any) -> str | None:
    """The country a clinic's national-format numbers belong to: its time zone's."""
    return country_for_zone(clinic.timezone)


def choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """Grouped choices for a <select>: the common zones, then every zone by country."""
    common = [(name, f"{title} ({name})" if name != UTC else title) for name, title in COMMON_ZONES]
    everything = [(z.name, z.label) for z in zones().values()]
    return [("Common time zones", common), ("All time zones, by country", everything)]


def abbreviation(name: str, at: datetime) -> str:
    """The zone's abbreviation at an instant: EST or EDT, CET or CEST, +03 ..."""
    return at.astimezone(zoneinfo.ZoneInfo(canonical(name) or UTC)).tzname() or ""


# How times read on a clinic's pages: "Mar 8, 3:30 AM EDT" (the zone's abbreviation, so
# nobody has to guess). The zone is the current one, which ClinicTimezoneMiddleware sets
# to the clinic's.
WHEN = "M j, g:i A T"
WHEN_SECONDS = "M j, g:i:s A T"
WHEN_DATE = "M j, Y"


def local_text(at: datetime | None, fmt: str = WHEN) -> str:
    """`at` in the current time zone, formatted for a person ("" for None)."""
    if at is None:
        return ""
    from django.utils import dateformat, timezone

    return dateformat.format(timezone.localtime(at), fmt)
