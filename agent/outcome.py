"""What the agent reports about a call when it ends, independent of livekit-agents.

The worker records the consent decision and the conversation's turns in a CallRecord while
the call runs; at the end `build_outcome` turns it into the body of
POST /api/v1/agent/calls/{room_name}/outcome (docs/agent.md):

- consent: granted / declined, or not_asked when the clinic does not require consent (or the
  fallback config ran, which records nothing);
- outcome: a category from what was said (keywords, in the call's language family); a caller
  who never spoke after the greeting hung up;
- summary: the caller's first real request, shortened;
- transcript: only when the clinic keeps transcripts and the caller did not decline. A
  declined call never carries a transcript, whatever else is true.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from agent.consent import Decision

Role = Literal["caller", "agent"]
MAX_SUMMARY = 280
MAX_TRANSCRIPT = 100_000

# Checked in this order: the first category with a keyword in the caller's words wins.
_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "transferred",
        ("transfer", "put me through", "speak to someone", "talk to a person", "human"),
    ),
    (
        "appointment_request",
        (
            "appointment",
            "book",
            "booking",
            "reschedule",
            "cancel my",
            "check-up",
            "checkup",
            "cleaning",
            "cita",
            "rendez-vous",
            "termin",
        ),
    ),
    ("message_taken", ("message", "call me back", "callback", "call back", "mensaje")),
)


@dataclass
class CallRecord:
    consent: Decision | None = None
    consent_at: datetime | None = None
    turns: list[tuple[Role, str]] = field(default_factory=list)

    def decide(self, decision: Decision, at: datetime | None = None) -> None:
        if self.consent is None:
            self.consent = decision
            self.consent_at = at or datetime.now(UTC)

    def add(self, role: Role, text: str) -> None:
        text = " ".join(text.split())
        if text:
            self.turns.append((role, text))


def consent_value(decision: Decision | None) -> str:
    if decision is Decision.GRANTED:
        return "granted"
    if decision is Decision.DECLINED:
        return "declined"
    return "not_asked"


def classify(record: CallRecord) -> str:
    said = " ".join(text.lower() for role, text in record.turns if role == "caller")
    if not said:
        return "hung_up"
    for category, words in _KEYWORDS:
        if any(re.search(rf"\b{re.escape(word)}\b", said) for word in words):
            return category
    return "answered" if any(role == "agent" for role, _ in record.turns) else "other"


def summarise(record: CallRecord) -> str:
    callers = [text for role, text in record.turns if role == "caller"]
    if not callers:
        return "The caller hung up without saying anything."
    # The consent answer ("yes, that's fine") is not the reason for the call.
    reason = max(callers[:3], key=len)
    if len(reason) > MAX_SUMMARY:
        reason = reason[: MAX_SUMMARY - 1].rstrip() + "…"
    return f"Caller: {reason}"


def transcript_text(record: CallRecord) -> str:
    lines = [
        f"{'Caller' if role == 'caller' else 'Receptionist'}: {text}" for role, text in record.turns
    ]
    return "\n".join(lines)[:MAX_TRANSCRIPT]


def build_outcome(record: CallRecord, *, keep_transcripts: bool) -> dict[str, Any]:
    consent = consent_value(record.consent)
    body: dict[str, Any] = {
        "consent": consent,
        "consent_at": record.consent_at.isoformat() if record.consent_at else None,
        "outcome": classify(record),
        "summary": summarise(record),
        "transcript": "",
    }
    if keep_transcripts and consent != "declined":
        body["transcript"] = transcript_text(record)
    return body
