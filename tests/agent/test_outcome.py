"""agent/outcome.py: what the agent reports at the end of a call (no livekit needed)."""

from datetime import UTC, datetime

import pytest

from agent.consent import Decision
from agent.outcome import CallRecord, build_outcome, classify
from agent.platform_client import redact


def record(decision, *turns):
    rec = CallRecord()
    if decision is not None:
        rec.decide(decision, at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    for role, text in turns:
        rec.add(role, text)
    return rec


BOOKING = (
    ("agent", "May we record this call?"),
    ("caller", "Yes, that's fine."),
    ("agent", "Thank you. How can I help?"),
    ("caller", "I'd like to book an appointment for a cleaning next week."),
)


def test_a_declined_call_never_carries_a_transcript():
    body = build_outcome(record(Decision.DECLINED, *BOOKING), keep_transcripts=True)
    assert body["consent"] == "declined" and body["transcript"] == ""
    assert body["outcome"] == "appointment_request"


def test_a_granted_call_carries_the_transcript_when_the_clinic_keeps_them():
    body = build_outcome(record(Decision.GRANTED, *BOOKING), keep_transcripts=True)
    assert body["consent"] == "granted"
    assert body["consent_at"] == "2026-01-02T03:04:05+00:00"
    assert body["transcript"].splitlines() == [
        "Receptionist: May we record this call?",
        "Caller: Yes, that's fine.",
        "Receptionist: Thank you. How can I help?",
        "Caller: I'd like to book an appointment for a cleaning next week.",
    ]
    assert "book an appointment" in body["summary"]


def test_no_transcript_when_the_clinic_keeps_none():
    body = build_outcome(record(Decision.GRANTED, *BOOKING), keep_transcripts=False)
    assert body["transcript"] == ""


def test_consent_not_required_is_reported_as_not_asked():
    body = build_outcome(record(Decision.NOT_REQUIRED), keep_transcripts=True)
    assert body["consent"] == "not_asked" and body["outcome"] == "hung_up"
    assert build_outcome(CallRecord(), keep_transcripts=True)["consent"] == "not_asked"


def test_the_first_decision_stands():
    rec = record(Decision.DECLINED)
    rec.decide(Decision.GRANTED)
    assert rec.consent is Decision.DECLINED


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("Can you take a message for Dr Smith? Please call me back.", "message_taken"),
        ("What time do you open on Saturday?", "answered"),
        ("Can I speak to someone at the front desk, a human please?", "transferred"),
        ("I need to reschedule my appointment", "appointment_request"),
    ],
)
def test_the_outcome_category_comes_from_what_the_caller_said(said, expected):
    rec = record(None, ("agent", "Hello, how can I help?"), ("caller", said))
    assert classify(rec) == expected


def test_long_summaries_are_shortened():
    rec = record(None, ("caller", "word " * 200))
    assert len(build_outcome(rec, keep_transcripts=False)["summary"]) <= 300


def test_the_log_never_gets_a_whole_phone_number():
    url = "http://sb/api/v1/agent/calls/bright_%2B14155559876_Ab3d/outcome"
    assert redact(url) == "http://sb/api/v1/agent/calls/bright_***9876_Ab3d/outcome"
    assert redact("bright_+14155559876_Ab3d") == "bright_***9876_Ab3d"
