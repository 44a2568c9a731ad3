"""Entries in words: for the clinic page, the CSV export, the API and admin."""

from __future__ import annotations

import csv
import difflib
import io
from collections.abc import Iterable, Iterator
from typing import Any

from audit.models import AuditEntry

# Long text fields are shown as a line diff rather than two copies of the text.
TEXT_FIELDS = {"instructions", "greeting"}
EVENTS = {
    "clinic.create": "Clinic created",
    "clinic.update": "Clinic details changed",
    "clinic.go_live": "Went live",
    "clinic.suspend": "Suspended",
    "clinic.resume": "Resumed",
    "clinic.offboard": "Offboarded",
    "number.create": "Number added",
    "number.update": "Number changed",
    "number.delete": "Number removed",
    "carrier.create": "Carrier settings created",
    "carrier.update": "Carrier settings changed",
    "carrier.password_changed": "Carrier password changed",
    "carrier.connected": "Carrier account connected",
    "carrier.credentials_changed": "Carrier account credentials replaced",
    "carrier.disconnected": "Carrier account disconnected",
    "carrier.number_purchase": "Number purchase confirmed",
    "carrier.number_bought": "Number bought at the carrier",
    "carrier.number_purchase_failed": "Number purchase failed (nothing bought)",
    "carrier.number_release": "Number release confirmed (it goes back to the carrier)",
    "carrier.number_released": "Number released at the carrier",
    "carrier.number_release_failed": "Number release failed (still in the account)",
    "receptionist.create": "Receptionist created",
    "receptionist.update": "Receptionist settings changed",
    "receptionist.delete": "Receptionist deleted",
    "hours.create": "Opening hours and clinic facts started",
    "hours.update": "Opening hours or clinic facts changed",
    "after_hours.create": "After-hours behaviour set up",
    "after_hours.update": "After-hours behaviour changed",
    "location.create": "Location added",
    "location.update": "Location changed",
    "location.delete": "Location removed",
    "member.create": "Member joined",
    "member.update": "Member's role changed",
    "member.delete": "Member removed",
    "invitation.create": "Invitation sent",
    "invitation.update": "Invitation changed",
    "invitation.delete": "Invitation deleted",
    "retention.create": "Call retention set",
    "retention.update": "Call retention changed",
    "api_token.create": "API token created",
    "api_token.revoke": "API token revoked",
    "agent_token.create": "Agent token created",
    "agent_token.revoke": "Agent token revoked",
}


def event_label(event: str) -> str:
    return EVENTS.get(event, event)


def who(entry: AuditEntry) -> str:
    kind = AuditEntry.ActorKind(entry.actor_kind).label if entry.actor_kind else "system"
    if entry.actor_email:
        token = (entry.additional_data or {}).get("via")
        return f"{entry.actor_email} ({kind}{': ' + token if token else ''})"
    return kind


def _text_diff(old: str, new: str) -> list[str]:
    lines = difflib.unified_diff(
        (old or "").splitlines(), (new or "").splitlines(), "before", "after", lineterm="", n=1
    )
    return [line for line in lines if not line.startswith(("---", "+++"))]


def change_lines(entry: AuditEntry) -> list[str]:
    """One line per changed field ("field: old → new"); text fields as a diff."""
    out: list[str] = []
    for field, values in sorted((entry.changes or {}).items()):
        if not isinstance(values, list) or len(values) != 2:
            out.append(f"{field}: {values}")
            continue
        old, new = values
        if field in TEXT_FIELDS and entry.action != AuditEntry.Action.CREATE:
            out.append(f"{field}:")
            out.extend(f"  {line}" for line in _text_diff(str(old), str(new)))
        else:
            out.append(f"{field}: {old} → {new}")
    return out


def as_dict(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.pk,
        "at": entry.timestamp.isoformat(),
        "event": entry.event,
        "summary": event_label(entry.event),
        "object": entry.object_repr,
        "actor": entry.actor_email or None,
        "actor_kind": entry.actor_kind,
        "token": (entry.additional_data or {}).get("via"),
        "ip": entry.remote_addr,
        "changes": entry.changes or {},
    }


CSV_COLUMNS = ["at", "event", "summary", "object", "actor", "actor_kind", "ip", "changes"]


def _cell(text: str) -> str:
    """Spreadsheets run cells starting with = + - @ as formulas: quote them."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def entries_csv(entries: Iterable[AuditEntry]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate(0)
        return text

    writer.writerow(CSV_COLUMNS)
    yield flush()
    for entry in entries:
        row = as_dict(entry)
        writer.writerow(
            [
                row["at"],
                row["event"],
                row["summary"],
                _cell(row["object"]),
                _cell(row["actor"] or ""),
                row["actor_kind"],
                row["ip"] or "",
                _cell("\n".join(change_lines(entry))),
            ]
        )
        yield flush()
