"""The call log on a database other than PostgreSQL: `make run`'s SQLite.

The webhook's two statements (telephony.call_clinic's lookup, telephony.call_upsert's merge)
are PostgreSQL's: array parameters, `FOR NO KEY UPDATE OF`, `LEAST`, `extract(epoch …)`.
Here the same evidence and the same merge rules run through the ORM, a few queries per
event, with no row locks: SQLite takes one writer at a time. Nothing in production runs
this path (PostgreSQL is the only database the deployment supports); it keeps the local
platform's call log working, and `tests/telephony/test_call_portable.py` holds it to the
PostgreSQL path's results.
"""

from __future__ import annotations

import uuid
from typing import Any

from telephony.agent_config import clinic_for_room
from telephony.call_merge import derive, earliest
from telephony.models import Call, Provisioning, TestCall
from tenants.models import Clinic

TEXT_FACTS = ("trunk_id", "rule_id", "call_id", "caller_last4", "caller_number", "called_number")
TIMES = ("started_at", "answered_at", "caller_left_at", "room_finished_at")


def find_clinic(
    *, room_sid: str, room_name: str, trunk: str = "", rule: str = "", attribute: str = ""
) -> tuple[Clinic, str] | None:
    """The clinic and the Call.MappedBy value of the strongest evidence, as
    telephony.call_clinic.find_clinic decides them."""
    rows = Provisioning.objects.select_related("clinic")
    if trunk:
        by_trunk = rows.filter(trunk_id=trunk).order_by("clinic__name", "clinic_id").first()
        if by_trunk is not None:
            return by_trunk.clinic, Call.MappedBy.TRUNK
    if rule:
        by_rule = rows.filter(dispatch_rule_id=rule).order_by("clinic__name", "clinic_id").first()
        if by_rule is not None:
            return by_rule.clinic, Call.MappedBy.RULE
    try:
        named = uuid.UUID(attribute) if attribute else None
    except ValueError:
        named = None
    clinic = Clinic.objects.filter(pk=named).first() if named else None
    if clinic is not None:
        return clinic, Call.MappedBy.ATTRIBUTE
    row = Call.objects.select_related("clinic").filter(room_sid=room_sid).first()
    if row is not None:
        return row.clinic, row.mapped_by
    clinic = clinic_for_room(room_name)
    return (clinic, Call.MappedBy.ROOM_PREFIX) if clinic is not None else None


def upsert(fresh: Call, strength: dict[str, int]) -> Call:
    """`fresh` (the event's own values) saved as the room's row, or merged into it by the
    rules telephony.call_upsert writes in SQL."""
    row = Call.objects.filter(room_sid=fresh.room_sid).first()
    if row is None:
        fresh.is_test = _test_call(fresh.clinic_id, fresh.room_name)
        fresh.save()
        return fresh
    if strength[fresh.mapped_by] > strength[row.mapped_by]:
        row.clinic_id, row.mapped_by = fresh.clinic_id, fresh.mapped_by
    for name in TEXT_FACTS:
        setattr(row, name, getattr(row, name) or getattr(fresh, name))
    for name in TIMES:
        setattr(row, name, earliest(getattr(row, name), getattr(fresh, name)))
    derive(row)
    row.is_test = row.is_test or _test_call(row.clinic_id, row.room_name)
    row.save()
    return row


def _test_call(clinic_id: Any, room_name: str) -> bool:
    return TestCall.objects.filter(clinic_id=clinic_id, room_name=room_name).exists()
