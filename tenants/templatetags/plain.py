"""`{{ e164|phone }}`: a stored number as people read it (+1 415 555 0100)."""

from __future__ import annotations

from django import template

from telephony.validators import display_number

register = template.Library()


@register.filter
def phone(value: str | None) -> str:
    return display_number(value) if value else ""
