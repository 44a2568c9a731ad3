"""A clinic's receptionist configuration as the agent config API returns it, validated.

The API is ours, but the worker must never turn a surprising payload into a broken call: every
field is type-checked, a language the worker cannot speak falls back to the default, and a
model it cannot build is replaced later by `agent.config.plan_models`.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from agent.config import DEFAULT_LLM_MODEL, DEFAULT_STT_MODEL, DEFAULT_TTS_MODEL

logger = logging.getLogger("switchboard.agent")

SUPPORTED_LANGUAGES = ("en-US", "en-GB", "es-ES", "fr-FR", "de-DE")
DEFAULT_LANGUAGE = "en-US"
DEFAULT_VOICE = ""  # empty: the TTS provider's own default voice

FALLBACK_GREETING = (
    "Thank you for calling. Our receptionist is unavailable right now; "
    "please leave your name and number."
)
FALLBACK_INSTRUCTIONS = (
    "You are answering the phone for a medical clinic while its systems are unavailable. "
    "Your only job is to take a message: ask for the caller's name, a callback number and a "
    "short reason for the call, read the number back to confirm it, and say the clinic will "
    "call back. Do not give medical advice, do not book or change appointments, and do not "
    "guess anything about the clinic. If the caller describes an emergency, tell them to hang "
    "up and call their local emergency number."
)


class InvalidConfig(ValueError):
    """The platform answered 200 with a payload that breaks the contract."""


@dataclass(frozen=True)
class ClinicConfig:
    clinic: uuid.UUID | None
    clinic_name: str
    config_version: int
    agent_name: str
    greeting: str
    instructions: str
    language: str
    voice: str
    stt_model: str
    llm_model: str
    tts_model: str
    recording_consent_required: bool
    is_fallback: bool = False
    # Whether the clinic keeps transcripts (absent from older platforms: then no transcript).
    keep_transcripts: bool = False
    # Which of the clinic's receptionists this is (absent from older platforms).
    receptionist: int | None = None
    receptionist_name: str = ""
    # The call-time part (agent.front_desk): absent from older platforms, which had no hours.
    call_time: CallTime | None = None


@dataclass(frozen=True)
class CallTime:
    """Open or closed when the platform answered, what to do when closed, what to know."""

    open_now: bool
    open_until: str | None
    opens_at: str | None
    after_hours_action: str  # "message", "emergency" or "route"
    after_hours_greeting: str
    after_hours_instructions: str
    route_to: int | None
    knowledge: dict[str, Any]


def fallback_config(clinic: uuid.UUID | None = None) -> ClinicConfig:
    """What a caller gets when the platform cannot be asked: a neutral message taker.

    Without the clinic's settings nothing may be recorded, so the worker starts a fallback
    call with recording off; with nothing to record there is no consent to ask for.
    """
    return ClinicConfig(
        clinic=clinic,
        clinic_name="",
        config_version=-1,
        agent_name="",
        greeting=FALLBACK_GREETING,
        instructions=FALLBACK_INSTRUCTIONS,
        language=DEFAULT_LANGUAGE,
        voice=DEFAULT_VOICE,
        stt_model=DEFAULT_STT_MODEL,
        llm_model=DEFAULT_LLM_MODEL,
        tts_model=DEFAULT_TTS_MODEL,
        recording_consent_required=False,
        is_fallback=True,
    )


def _field(data: dict[str, Any], name: str, kind: type) -> Any:
    if name not in data:
        raise InvalidConfig(f"agent config has no {name!r}")
    value = data[name]
    # bool is an int subclass: an int field must not accept true/false, and vice versa.
    if type(value) is not kind:
        raise InvalidConfig(
            f"agent config {name!r} must be {kind.__name__}, got {type(value).__name__}"
        )
    return value


def parse_config(data: object, *, expected_clinic: uuid.UUID | None = None) -> ClinicConfig:
    """Validate an agent config API body. Unknown keys are ignored (forward compatible)."""
    if not isinstance(data, dict):
        raise InvalidConfig(f"agent config must be a JSON object, got {type(data).__name__}")
    try:
        clinic = uuid.UUID(_field(data, "clinic", str))
    except ValueError:
        raise InvalidConfig("agent config 'clinic' is not a uuid") from None
    if expected_clinic is not None and clinic != expected_clinic:
        # Never speak for a clinic other than the one the call was dispatched for.
        raise InvalidConfig(f"agent config is for clinic {clinic}, not {expected_clinic}")
    version = _field(data, "config_version", int)
    if version < 0:
        raise InvalidConfig("agent config 'config_version' is negative")
    instructions = _field(data, "instructions", str).strip()
    if not instructions:
        raise InvalidConfig("agent config 'instructions' is empty")
    language = _field(data, "language", str)
    if language not in SUPPORTED_LANGUAGES:
        logger.warning(
            "clinic %s: unsupported language %r, using %s", clinic, language, DEFAULT_LANGUAGE
        )
        language = DEFAULT_LANGUAGE
    return ClinicConfig(
        clinic=clinic,
        clinic_name=_field(data, "clinic_name", str).strip(),
        config_version=version,
        agent_name=_field(data, "agent_name", str),
        greeting=_field(data, "greeting", str).strip(),
        instructions=instructions,
        language=language,
        voice=_field(data, "voice", str).strip(),
        stt_model=_field(data, "stt_model", str).strip(),
        llm_model=_field(data, "llm_model", str).strip(),
        tts_model=_field(data, "tts_model", str).strip(),
        recording_consent_required=_field(data, "recording_consent_required", bool),
        keep_transcripts=data.get("keep_transcripts") is True,
        receptionist=_optional_id(data, "receptionist"),
        receptionist_name=str(data.get("receptionist_name") or "").strip(),
        call_time=_call_time(data),
    )


AFTER_HOURS_ACTIONS = ("message", "emergency", "route")
KNOWLEDGE_TEXT = ("address", "directions", "emergency_number")
KNOWLEDGE_LISTS = ("services", "insurers", "languages")


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _call_time(data: dict[str, Any]) -> CallTime | None:
    """The call-time fields, leniently: a field of the wrong type is left out rather than
    failing the call (the greeting and instructions are what matter)."""
    if "open_now" not in data:
        return None
    if type(data["open_now"]) is not bool:
        raise InvalidConfig("agent config 'open_now' must be bool")
    after = data.get("after_hours") if isinstance(data.get("after_hours"), dict) else {}
    action = after.get("action") if after.get("action") in AFTER_HOURS_ACTIONS else "message"
    target = after.get("route_to") if isinstance(after.get("route_to"), dict) else {}
    route_to = target.get("id") if type(target.get("id")) is int else None
    if action == "route" and route_to is None:
        action = "message"
    raw = data.get("knowledge") if isinstance(data.get("knowledge"), dict) else {}
    knowledge: dict[str, Any] = {k: _text(raw.get(k)) for k in KNOWLEDGE_TEXT}
    for key in KNOWLEDGE_LISTS:
        items = raw.get(key) if isinstance(raw.get(key), list) else []
        knowledge[key] = [_text(i) for i in items if _text(i)]
    faqs = raw.get("faqs") if isinstance(raw.get("faqs"), list) else []
    knowledge["faqs"] = [
        (_text(f.get("question")), _text(f.get("answer")))
        for f in faqs
        if isinstance(f, dict) and _text(f.get("question")) and _text(f.get("answer"))
    ]
    # The location this line answers for (its address and hours are already the ones above).
    location = data.get("location") if isinstance(data.get("location"), dict) else {}
    knowledge["location"] = _text(location.get("name"))
    return CallTime(
        open_now=data["open_now"],
        open_until=data.get("open_until") if isinstance(data.get("open_until"), str) else None,
        opens_at=data.get("opens_at") if isinstance(data.get("opens_at"), str) else None,
        after_hours_action=action,
        after_hours_greeting=_text(after.get("greeting")),
        after_hours_instructions=_text(after.get("instructions")),
        route_to=route_to,
        knowledge=knowledge,
    )


def _optional_id(data: dict[str, Any], name: str) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if type(value) is not int or value < 1:
        raise InvalidConfig(f"agent config {name!r} must be a positive integer")
    return value
