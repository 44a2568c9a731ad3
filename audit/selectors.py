"""A clinic's entries, filtered as the page, the CSV export and the API ask."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from audit.models import AuditEntry
from audit.presenting import EVENTS

KINDS = sorted({event.split(".")[0] for event in EVENTS})
MAX_TEXT = 254


def _date(params: Mapping[str, Any], name: str) -> dt.date | None:
    raw = str(params.get(name) or "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise ValidationError(
            {name: f"Give a date as YYYY-MM-DD, for example 2026-12-01 (got {raw[:20]!r})."}
        ) from None


def clinic_entries(clinic: Any, params: Mapping[str, Any]) -> QuerySet[AuditEntry]:
    """Newest first. Filters: `kind` (what changed: clinic, number, carrier, …), `actor`
    (part of an email address), `since` and `until` (dates, inclusive, in UTC)."""
    entries = AuditEntry.objects.filter(clinic=clinic).order_by("-timestamp", "-pk")
    kind = str(params.get("kind") or "").strip()
    if kind:
        if kind not in KINDS:
            raise ValidationError({"kind": f"Choose one of: {', '.join(KINDS)}."})
        entries = entries.filter(event__startswith=kind + ".")
    actor = str(params.get("actor") or "").strip()
    if actor:
        if len(actor) > MAX_TEXT or any(ord(c) < 32 or 0xD800 <= ord(c) <= 0xDFFF for c in actor):
            raise ValidationError({"actor": "Give part of an email address (plain text)."})
        entries = entries.filter(actor_email__icontains=actor)
    since, until = _date(params, "since"), _date(params, "until")
    if since:
        entries = entries.filter(timestamp__date__gte=since)
    if until:
        entries = entries.filter(timestamp__date__lte=until)
    return entries
