"""One event merged into its call row in ONE statement: INSERT … ON CONFLICT DO UPDATE.

The merge rules are telephony.calllog's (each field only moves towards its final value, the
status derived from the merged fields), written here in SQL so that PostgreSQL applies them
to the row it holds, locked, whatever the order of events and however many deliveries race:

- times (start, answer, caller left, room finished): the earliest known (`LEAST` ignores
  NULLs, as `_earliest` does);
- text facts (trunk, rule, SIP call ID, caller): the first non-empty one kept;
- the clinic and how it was found: the stronger evidence's (trunk > rule > attribute >
  prefix), a tie keeps the row's;
- ended = the earliest of caller left and room finished; the status and the duration from
  the merged row, as `_derive` computes them;
- is_test: once true, true; else whether a test call of the row's clinic used its room name.

A new room's row is the event's own values (computed in Python by the same `_merge` on an
empty row), its test-call check in the same statement. Decision 0054 explains why the
clinic is found and locked before (test-call recording serialises on it).
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from telephony.models import Call
from telephony.sql_rows import model_rows

# Call.MappedBy ranked as telephony.calllog._STRENGTH ranks them (a test checks they agree).
RANK = "CASE {} WHEN 'trunk' THEN 3 WHEN 'rule' THEN 2 WHEN 'attribute' THEN 1 ELSE 0 END"
_STRONGER = f"{RANK.format('EXCLUDED.mapped_by')} > {RANK.format('c.mapped_by')}"
_CLINIC = f"CASE WHEN {_STRONGER} THEN EXCLUDED.clinic_id ELSE c.clinic_id END"
_ANSWERED = "LEAST(c.answered_at, EXCLUDED.answered_at)"
_STARTED = "LEAST(c.started_at, EXCLUDED.started_at)"
_ENDED = (
    "LEAST(c.caller_left_at, EXCLUDED.caller_left_at, "
    "c.room_finished_at, EXCLUDED.room_finished_at)"
)


def _first_text(column: str) -> str:
    return f"{column} = COALESCE(NULLIF(c.{column}, ''), EXCLUDED.{column})"


UPSERT = f"""
INSERT INTO telephony_call AS c (
    clinic_id, room_sid, room_name, trunk_id, rule_id, call_id, caller_last4, caller_number,
    called_number, status, started_at, answered_at, ended_at, duration_seconds,
    caller_left_at, room_finished_at, mapped_by, is_test, created_at, updated_at)
VALUES (
    %(clinic_id)s, %(room_sid)s, %(room_name)s::text, %(trunk_id)s, %(rule_id)s, %(call_id)s,
    %(caller_last4)s, %(caller_number)s, %(called_number)s, %(status)s, %(started_at)s,
    %(answered_at)s, %(ended_at)s, %(duration_seconds)s, %(caller_left_at)s,
    %(room_finished_at)s, %(mapped_by)s,
    EXISTS (SELECT 1 FROM telephony_testcall t
            WHERE t.clinic_id = %(clinic_id)s AND t.room_name = %(room_name)s::text),
    %(now)s, %(now)s)
ON CONFLICT (room_sid) DO UPDATE SET
    clinic_id = {_CLINIC},
    mapped_by = CASE WHEN {_STRONGER} THEN EXCLUDED.mapped_by ELSE c.mapped_by END,
    {_first_text("trunk_id")},
    {_first_text("rule_id")},
    {_first_text("call_id")},
    {_first_text("caller_last4")},
    {_first_text("caller_number")},
    {_first_text("called_number")},
    started_at = {_STARTED},
    answered_at = {_ANSWERED},
    caller_left_at = LEAST(c.caller_left_at, EXCLUDED.caller_left_at),
    room_finished_at = LEAST(c.room_finished_at, EXCLUDED.room_finished_at),
    ended_at = {_ENDED},
    status = CASE
        WHEN {_ENDED} IS NULL THEN
            CASE WHEN {_ANSWERED} IS NULL THEN 'ringing' ELSE 'active' END
        ELSE CASE WHEN {_ANSWERED} IS NULL THEN 'failed' ELSE 'completed' END
    END,
    duration_seconds = CASE
        WHEN {_ENDED} IS NULL THEN NULL
        ELSE GREATEST(0, round(extract(epoch FROM
            {_ENDED} - COALESCE({_ANSWERED}, {_STARTED}))))::integer
    END,
    is_test = c.is_test OR EXISTS (SELECT 1 FROM telephony_testcall t
                                  WHERE t.clinic_id = {_CLINIC} AND t.room_name = c.room_name),
    updated_at = EXCLUDED.updated_at
RETURNING c.*
"""  # noqa: S608 - every interpolated piece is a constant of this module; values are params

COLUMNS = (
    "clinic_id", "room_sid", "room_name", "trunk_id", "rule_id", "call_id", "caller_last4",
    "caller_number", "called_number", "status", "started_at", "answered_at", "ended_at",
    "duration_seconds", "caller_left_at", "room_finished_at", "mapped_by",
)  # fmt: skip


def upsert(fresh: Call) -> Call:
    """The room's row after merging `fresh` (the event's own values) into it, or `fresh`
    inserted; one statement, the row locked until the transaction ends."""
    params: dict[str, Any] = {name: getattr(fresh, name) for name in COLUMNS}
    params["now"] = timezone.now()
    (row,) = model_rows(Call, UPSERT, params)
    return row
