"""Reads for the agent worker: which clinic a job serves, and that clinic's agent config."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import QuerySet

from telephony.models import AgentConfig, CallLogPolicy
from tenants.models import Clinic

SEPARATOR = "_"


def clinic_for_room(room_name: str, clinics: QuerySet[Clinic] | None = None) -> Clinic | None:
    """The clinic whose room prefix starts the room name, longest match first.

    LiveKit names individual rooms "<prefix>_<caller>_<random>", and prefixes cannot contain
    "_", so in practice only the first segment can match; trying every "_" boundary keeps the
    lookup correct even if that rule were ever relaxed. One query, on `clinics` if given
    (the webhook receiver passes a locking queryset).
    """
    if not room_name or len(room_name) > 256:
        return None
    candidates = [room_name[:i] for i, ch in enumerate(room_name) if ch == SEPARATOR and i]
    if not candidates:
        return None
    matches = list(
        (clinics if clinics is not None else Clinic.objects).filter(room_prefix__in=candidates)
    )
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


def live_agent_config(clinic_id: str) -> AgentConfig | None:
    """A live clinic's agent config with its clinic, in one query (the agent's pickup path);
    None for an unknown, draft, suspended or offboarded clinic."""
    try:
        key = uuid.UUID(clinic_id)
    except ValueError:
        return None
    rows = AgentConfig.objects.select_related("clinic")
    return rows.filter(clinic_id=key, clinic__state=Clinic.State.LIVE).first()


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
