"""The call log's merge rules shared by its two writers: the earliest time, and a row's
status, end and duration derived from its merged facts (telephony.calllog writes them for
PostgreSQL in SQL too, telephony.call_upsert; telephony.call_portable uses them as they are).
"""

from __future__ import annotations

from datetime import datetime

from telephony.models import Call


def earliest(*values: datetime | None) -> datetime | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None


def derive(call: Call) -> None:
    """Status, end and duration from the merged facts (order-independent)."""
    call.ended_at = earliest(call.caller_left_at, call.room_finished_at)
    if call.ended_at is not None:
        call.status = Call.Status.COMPLETED if call.answered_at else Call.Status.FAILED
        begin = call.answered_at or call.started_at
        seconds = (call.ended_at - begin).total_seconds() if begin else 0
        call.duration_seconds = max(0, round(seconds))
    else:
        call.status = Call.Status.ACTIVE if call.answered_at else Call.Status.RINGING
        call.duration_seconds = None
