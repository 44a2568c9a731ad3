"""`{{ value|when }}`: a time on a clinic's page, in the clinic's zone with its abbreviation;
`{{ clinic.timezone|zone }}`: the zone as people say it."""

from __future__ import annotations

from datetime import datetime

from django import template

from tenants.timezones import WHEN, WHEN_DATE, WHEN_SECONDS, local_text, zone_name

register = template.Library()


@register.filter
def when(value: datetime | None) -> str:
    return local_text(value, WHEN)


@register.filter
def when_seconds(value: datetime | None) -> str:
    return local_text(value, WHEN_SECONDS)


@register.filter
def when_date(value: datetime | None) -> str:
    return local_text(value, WHEN_DATE)


@register.filter
def zone(value: str) -> str:
    return zone_name(value)
