"""What the receptionist says and is told for this call: the line's greeting when the clinic
is open, the after-hours greeting and instructions when it is closed (decided by the
platform at request time; docs/front-desk.md), and what it knows about the clinic.

Pure functions of the config: no livekit import, so they are tested without the extra.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from agent.clinic_config import CallTime, ClinicConfig

TAKE_MESSAGE = (
    "To take a message, ask for the caller's name, a number to call back (read it back to "
    "confirm) and what it is about, ask whether it is urgent, then use the take_message "
    "tool once. Tell the caller the clinic will call back; never promise a time."
)


@dataclass(frozen=True)
class Script:
    closed: bool
    greeting: str
    instructions: str


def _when(iso: str | None) -> str:
    """ "2026-12-07T09:00-05:00" -> "Monday at 9:00 AM"; "" when unknown or unreadable."""
    if not iso:
        return ""
    try:
        at = datetime.fromisoformat(iso)
    except ValueError:
        return ""
    hour = at.strftime("%I:%M %p").lstrip("0")
    return f"{at.strftime('%A')} at {hour}"


def knowledge_text(call_time: CallTime | None) -> str:
    """The clinic's facts as a block of the instructions ("" when there are none)."""
    if call_time is None:
        return ""
    k = call_time.knowledge
    lines = []
    for key, label in (
        ("location", "This line answers for the location"),
        ("address", "Address"),
        ("directions", "How to find us"),
        ("emergency_number", "Emergency number"),
    ):
        if k.get(key):
            lines.append(f"{label}: {k[key]}")
    for key, label in (
        ("services", "Services offered"),
        ("insurers", "Insurance accepted"),
        ("languages", "Languages the staff speak"),
    ):
        if k.get(key):
            lines.append(f"{label}: {', '.join(k[key])}")
    for question, answer in k.get("faqs", []):
        lines.append(f"Q: {question} A: {answer}")
    if not lines:
        return ""
    return "What you know about the clinic (answer from this, do not guess):\n" + "\n".join(lines)


def _closed_guidance(config: ClinicConfig, call_time: CallTime) -> str:
    opens = _when(call_time.opens_at)
    parts = [
        "The clinic is closed right now"
        + (f"; it opens again {opens}." if opens else ".")
        + " Do not book or change appointments."
    ]
    number = call_time.knowledge.get("emergency_number", "")
    if call_time.after_hours_action == "emergency" and number:
        parts.append(
            f"If the caller's matter is urgent, give the emergency number {number} first, "
            "slowly; then offer to take a message."
        )
    parts.append(TAKE_MESSAGE)
    if call_time.after_hours_instructions:
        parts.append(call_time.after_hours_instructions)
    return "\n\n".join(parts)


def script_for(config: ClinicConfig) -> Script:
    """The greeting and the full instructions for this call."""
    call_time = config.call_time
    facts = knowledge_text(call_time)
    if call_time is None or call_time.open_now:
        extra = "If you cannot help, offer to take a message. " + TAKE_MESSAGE
        instructions = "\n\n".join(p for p in (config.instructions, facts, extra) if p)
        return Script(False, config.greeting, instructions)
    name = config.clinic_name or "the clinic"
    opens = _when(call_time.opens_at)
    greeting = call_time.after_hours_greeting or (
        f"Thank you for calling {name}. We are closed right now"
        + (f" and open again {opens}." if opens else ".")
        + " I can take a message for the team."
    )
    instructions = "\n\n".join(
        p for p in (config.instructions, facts, _closed_guidance(config, call_time)) if p
    )
    return Script(True, greeting, instructions)


def routed_receptionist(config: ClinicConfig) -> int | None:
    """The receptionist that answers instead while the clinic is closed, if one is chosen.
    It answers with its own (open) greeting and instructions: a route is not followed twice."""
    call_time = config.call_time
    if call_time is None or call_time.open_now or call_time.after_hours_action != "route":
        return None
    return call_time.route_to
