"""A move's extra lines (decision 0130): a clinic whose numbers are split over several
receptionists has, besides the trunk-wide rule on `Provisioning`, a numbers-scoped
dispatch rule per other line, recorded in `LineRule` (decision 0085).

Starting a move copies those records onto the move (`ProjectMove.source_lines`) and clears
them, so the ordinary reconcile creates every line's rule in the target as for a new clinic.
The source's line rules stay in the source and keep serving their numbers until the move
deletes them with the trunk; the source's drift scan counts them as claimed. Calling the
move off puts the records back, exactly as they were.
"""

from __future__ import annotations

from typing import Any

from telephony.models import LineRule, ProjectMove, Receptionist
from tenants.models import Clinic


def lines_in_flight(clinic: Clinic) -> bool:
    """A line rule's create or update whose outcome is still open."""
    return LineRule.objects.filter(clinic=clinic, intent__isnull=False).exists()


def snapshot(clinic: Clinic) -> list[dict[str, Any]]:
    """The clinic's line records as the move keeps them (JSON)."""
    return [
        {
            "line": row.line,
            "rule_id": row.rule_id,
            "applied_hash": row.applied_hash,
            "numbers": list(row.numbers or []),
        }
        for row in LineRule.objects.filter(clinic=clinic).order_by("line")
        if row.rule_id
    ]


def hand_over(clinic: Clinic) -> None:
    """Forget the source's line records: the target gets its own from reconcile."""
    LineRule.objects.filter(clinic=clinic).delete()


def restore(move: ProjectMove) -> list[str]:
    """The source's line records back on the clinic; returns the rule IDs the target had
    made for the lines (to delete there)."""
    made = [
        rule_id
        for rule_id in LineRule.objects.filter(clinic_id=move.clinic_id).values_list(
            "rule_id", flat=True
        )
        if rule_id
    ]
    LineRule.objects.filter(clinic_id=move.clinic_id).delete()
    LineRule.objects.bulk_create(
        LineRule(
            clinic_id=move.clinic_id,
            line=item["line"],
            rule_id=item["rule_id"],
            applied_hash=item["applied_hash"],
            numbers=item["numbers"],
        )
        for item in move.source_lines
    )
    return made


def source_rule_ids(move: ProjectMove) -> list[str]:
    return [item["rule_id"] for item in move.source_lines if item.get("rule_id")]


def describe(lines: list[dict[str, Any]]) -> str:
    """'Billing (+1…, +1…): rule SDR_…' per line, for the dry run and the log."""
    names = dict(
        Receptionist.objects.filter(
            pk__in=[int(i["line"]) for i in lines if str(i["line"]).isdigit()]
        ).values_list("pk", "name")
    )
    parts = []
    for item in lines:
        name = names.get(int(item["line"])) if str(item["line"]).isdigit() else None
        label = f"receptionist '{name}'" if name else f"line {item['line']}"
        numbers = ", ".join(item["numbers"]) or "no numbers"
        parts.append(f"{label} ({numbers}): rule {item['rule_id']}")
    return "; ".join(parts)
