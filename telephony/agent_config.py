"""Reads for the agent worker: which clinic a job serves, and that clinic's agent config."""

from __future__ import annotations

import uuid
from typing import Any

from telephony.models import AgentConfig, CallLogPolicy
from tenants.models import Clinic

SEPARATOR = "_"


def clinic_for_room(room_name: str) -> Clinic | None:
    """The clinic whose room prefix starts the room name, longest match first.

    LiveKit names individual rooms "<prefix>_<caller>_<random>", and prefixes cannot contain
    "_", so in practice only the first segment can match; trying every "_" boundary keeps the
    lookup correct even if that rule were ever relaxed. One query.
    """
    if not room_name or len(room_name) > 256:
        return None
    candidates = [room_name[:i] for i, ch in enumerate(room_name) if ch == SEPARATOR and i]
    if not candidates:
        return None
    matches = list(Clinic.objects.filter(room_prefix__in=candidates))
    return max(matches, key=lambda c: len(c.room_prefix), default=None)


def served_clinic(*, clinic_id: str = "", room: str = "") -> Clinic | None:
    """A live clinic by id or by room name; None for unknown, draft, suspended or offboarded."""
    clinic: Clinic | None
    if clinic_id:
        try:
            key = uuid.UUID(clinic_id)
        except ValueError:
            return None
        clinic = Clinic.objects.filter(pk=key).first()
    else:
        clinic = clinic_for_room(room)
    if clinic is None or clinic.state != Clinic.State.LIVE:
        return None
    return clinic


def agent_config_payload(clinic: Clinic, config: AgentConfig) -> dict[str, Any]:
    return {
        "clinic": str(clinic.pk),
        "clinic_name": clinic.name,
        "config_version": config.version,
        "agent_name": config.effective_agent_name,
        "greeting": config.greeting,
        "instructions": config.instructions,
        "language": config.language,
        "voice": config.voice,
        "stt_model": config.stt_model,
        "llm_model": config.llm_model,
        "tts_model": config.tts_model,
        "recording_consent_required": config.recording_consent_required,
        # A hint: the outcome endpoint drops transcripts the clinic does not keep anyway.
        "keep_transcripts": CallLogPolicy.for_clinic(clinic).keeps_transcripts,
    }
