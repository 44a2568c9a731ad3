"""Call outcomes posted by the agent, the call log's reads, retention and erasure.

One call has one outcome (decision 0030). The agent posts it at the end of the call and may
retry a post that timed out: the first post is stored with a hash of its body; a repeat with
the same body is answered as a success without changing anything; a different body for the
same call is refused (409), so nothing the clinic has seen is silently rewritten.

The transcript is kept only when the clinic keeps transcripts (its CallLogPolicy) and the
caller did not decline recording consent; otherwise it is dropped on arrival, whatever the
agent sent.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from telephony.agent_config import clinic_for_room
from telephony.calllog import redact_room_name
from telephony.models import Call, CallLogPolicy, CallOutcome
from tenants.models import Clinic

logger = logging.getLogger(__name__)

MAX_SUMMARY = 2000
MAX_TRANSCRIPT = 100_000


class NoSuchCall(Exception):
    """The room name belongs to no clinic of ours."""


class OutcomeConflict(Exception):
    """An outcome with a different body was already posted for this call."""


@dataclass(frozen=True)
class Recorded:
    outcome: CallOutcome
    created: bool
    transcript_stored: bool


def body_hash(fields: dict[str, Any]) -> str:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def record_outcome(
    *,
    room_name: str,
    consent: str,
    outcome: str,
    summary: str = "",
    transcript: str = "",
    consent_at: datetime | None = None,
) -> Recorded:
    """Store the outcome of the call in `room_name` once; see the module docstring."""
    clinic = clinic_for_room(room_name)
    if clinic is None:
        raise NoSuchCall(room_name)
    stored_name = redact_room_name(room_name)
    digest = body_hash(
        {
            "consent": consent,
            "consent_at": consent_at.isoformat() if consent_at else None,
            "outcome": outcome,
            "summary": summary,
            "transcript": transcript,
        }
    )
    policy = CallLogPolicy.for_clinic(clinic)
    keep = bool(transcript) and policy.keeps_transcripts and consent != CallOutcome.Consent.DECLINED
    existing = CallOutcome.objects.for_clinic(clinic).filter(room_name=stored_name).first()
    if existing is None:
        try:
            with transaction.atomic():
                row = CallOutcome.objects.create(
                    clinic=clinic,
                    room_name=stored_name,
                    consent=consent,
                    consent_at=consent_at,
                    outcome=outcome,
                    summary=summary,
                    transcript=transcript if keep else "",
                    body_hash=digest,
                )
                _after_outcome(row)
            return Recorded(row, created=True, transcript_stored=keep)
        except IntegrityError:  # a concurrent retry stored it first
            existing = CallOutcome.objects.for_clinic(clinic).get(room_name=stored_name)
    if existing.body_hash != digest:
        raise OutcomeConflict(stored_name)
    return Recorded(existing, created=False, transcript_stored=bool(existing.transcript))


def _after_outcome(row: CallOutcome) -> None:
    """Hook for what follows a new outcome in the same transaction (webhook events)."""
    from telephony import call_events

    call_events.outcome_recorded(row)


# --- reads ---------------------------------------------------------------------------------


def attach_outcomes(clinic: Clinic, calls: Iterable[Call]) -> list[Call]:
    """The calls with `.outcome` set (a CallOutcome or None), in one query."""
    rows = list(calls)
    names = {c.room_name for c in rows}
    found = {
        o.room_name: o for o in CallOutcome.objects.for_clinic(clinic).filter(room_name__in=names)
    }
    for call in rows:
        call.outcome = found.get(call.room_name)  # type: ignore[attr-defined]
    return rows


def outcome_of(call: Call) -> CallOutcome | None:
    return CallOutcome.objects.for_clinic(call.clinic).filter(room_name=call.room_name).first()


CSV_COLUMNS = (
    "started_at",
    "ended_at",
    "duration_seconds",
    "status",
    "caller",
    "consent",
    "outcome",
    "summary",
    "is_test",
    "room_sid",
)


def calls_csv(clinic: Clinic, *, full_caller: bool) -> Iterator[str]:
    """The whole call log as CSV lines (streamed: a clinic may have many calls)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate(0)
        return text

    writer.writerow(CSV_COLUMNS)
    yield flush()
    calls = Call.objects.for_clinic(clinic).order_by("-created_at")
    for start in range(0, calls.count(), 500):
        for call in attach_outcomes(clinic, calls[start : start + 500]):
            outcome = call.outcome  # type: ignore[attr-defined]
            writer.writerow(
                [
                    call.started_at.isoformat() if call.started_at else "",
                    call.ended_at.isoformat() if call.ended_at else "",
                    "" if call.duration_seconds is None else call.duration_seconds,
                    call.status,
                    _cell(call.caller_for(full=full_caller)),
                    outcome.consent if outcome else "",
                    outcome.outcome if outcome else "",
                    _cell(outcome.summary) if outcome else "",
                    "yes" if call.is_test else "no",
                    call.room_sid,
                ]
            )
            yield flush()


def _cell(text: str) -> str:
    """Spreadsheets run cells that start with = + - @ as formulas: quote them as text."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


# --- retention and erasure -----------------------------------------------------------------


def _with_days(field: str, days: int) -> Q:
    """Clinics whose policy says `days` for `field`, including those using the default."""
    selected = Q(**{f"clinic__call_policy__{field}": days})
    blank = CallLogPolicy()
    defaults = {"transcript_days": blank.transcript_days, "call_days": blank.call_days}
    if defaults[field] == days:
        selected |= Q(clinic__call_policy__isnull=True)
    return selected


@dataclass(frozen=True)
class Purged:
    transcripts: int
    calls: int
    outcomes: int
    messages: int = 0


def purge_expired(now: datetime | None = None) -> Purged:
    """Drop transcripts and call details older than each clinic's policy allows."""
    now = now or timezone.now()
    from frontdesk.models import Message  # the messages taken on calls go with the calls

    transcripts = calls = outcomes = messages = 0
    for days in CallLogPolicy.TranscriptDays.values:
        selected = CallOutcome.objects.filter(_with_days("transcript_days", days)).exclude(
            transcript=""
        )
        if days:
            selected = selected.filter(posted_at__lt=now - timedelta(days=days))
        transcripts += selected.update(transcript="", transcript_purged_at=now)
    for days in CallLogPolicy.CallDays.values:
        cutoff = now - timedelta(days=days)
        calls += (
            Call.objects.filter(_with_days("call_days", days), created_at__lt=cutoff)
            .delete()[1]
            .get(Call._meta.label, 0)
        )
        outcomes += (
            CallOutcome.objects.filter(_with_days("call_days", days), posted_at__lt=cutoff)
            .delete()[1]
            .get(CallOutcome._meta.label, 0)
        )
        messages += Message.objects.filter(
            _with_days("call_days", days), created_at__lt=cutoff
        ).delete()[0]
    if transcripts or calls or outcomes:
        logger.info(
            "retention: purged %s transcripts, %s calls, %s outcomes", transcripts, calls, outcomes
        )
    return Purged(transcripts, calls, outcomes, messages)


@dataclass(frozen=True)
class Erased:
    calls: int
    outcomes: int
    events: int
    messages: int = 0


def erase_caller(*, clinic: Clinic, number: str) -> Erased:
    """Everything the clinic holds about one caller number: its calls, their outcomes and
    transcripts, the messages taken from it or asking to be called back on it, and the
    webhook events that carried them (decision 0030)."""
    from frontdesk.models import Message
    from telephony import call_events

    with transaction.atomic():
        calls = Call.objects.for_clinic(clinic).filter(caller_number=number)
        rooms = list(calls.values_list("room_name", flat=True))
        events = call_events.erase_for_rooms(clinic, rooms)
        outcomes = CallOutcome.objects.for_clinic(clinic).filter(room_name__in=rooms).delete()[0]
        messages = (
            Message.objects.filter(clinic=clinic)
            .filter(Q(caller_number=number) | Q(callback_number=number) | Q(room_name__in=rooms))
            .delete()[0]
        )
        deleted = calls.delete()[0]
    logger.info("erased a caller's data from clinic %s: %s calls", clinic.pk, deleted)
    return Erased(calls=deleted, outcomes=outcomes, events=events, messages=messages)
