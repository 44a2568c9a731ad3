"""Reads for the agent worker: which clinic and receptionist a job serves, and that
receptionist's config."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.utils.http import quote_etag

from frontdesk.config import RELATED as CALL_TIME_RELATED
from frontdesk.config import CallTime, call_time
from telephony.models import CallLogPolicy, Receptionist
from tenants.models import Clinic

SEPARATOR = "_"
# Keep a copy, but ask every time: the ETag decides whether it is still good.
CONFIG_CACHE_CONTROL = "private, no-cache"


def config_etag(
    clinic_id: object,
    receptionist_id: object,
    version: object,
    call_time_part: str = "",
    *,
    clinic_part: str,
) -> str:
    """The config answer's ETag: its clinic, receptionist and config version, the call-time
    part and the clinic's own facts the answer shows (`clinic_etag_part`).

    Two paths compute it: the view (telephony/api/agent.py) and the pickup read before the
    rest of the stack (telephony/api/agent_not_modified.py, decisions 0101 and 0145), which
    also serves a 200 from its cache by it. Anything the answer shows that can change without
    `version` changing must be part of it, and read by both
    (tests/telephony/test_agent_not_modified.py checks they agree)."""
    tail = f"-{call_time_part}" if call_time_part else ""
    return quote_etag(f"{clinic_id}-{receptionist_id}-{version}{tail}-{clinic_part}")


def clinic_etag_part(name: str, transcript_days: int | None) -> str:
    """What the answer shows of the clinic row and its call log policy, which no version
    follows: the clinic's name (a digest) and whether it keeps transcripts (`transcript_days`
    None: the clinic has no policy row, so the default applies)."""
    if transcript_days is None:
        transcript_days = CallLogPolicy._meta.get_field("transcript_days").get_default()
    digest = hashlib.blake2s(name.encode(), digest_size=6).hexdigest()
    return f"n{digest}{'t' if transcript_days else 'x'}"


def named_receptionist(receptionist_id: str) -> int:
    """The receptionist id a request names, 0 for none (or nonsense)."""
    return int(receptionist_id) if receptionist_id.isdigit() and len(receptionist_id) < 19 else 0


def room_prefixes(room_name: str) -> list[str]:
    """Every prefix a clinic's room could have in this room name (each "_" boundary)."""
    if not room_name or len(room_name) > 256:
        return []
    return [room_name[:i] for i, ch in enumerate(room_name) if ch == SEPARATOR and i]


def clinic_for_room(room_name: str, clinics: QuerySet[Clinic] | None = None) -> Clinic | None:
    """The clinic whose room prefix starts the room name, longest match first.

    LiveKit names individual rooms "<prefix>_<caller>_<random>", and prefixes cannot contain
    "_", so in practice only the first segment can match; trying every "_" boundary keeps the
    lookup correct even if that rule were ever relaxed. One query, on `clinics` if given
    (the webhook receiver passes a locking queryset).
    """
    candidates = room_prefixes(room_name)
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


def live_receptionist(clinic_id: str, receptionist_id: str = "") -> Receptionist | None:
    """A live clinic's receptionist with its clinic, in one query (the agent's pickup path):
    the one named by id, else the clinic's first (see `served_receptionist`); None for an
    unknown, draft, suspended or offboarded clinic."""
    try:
        key = uuid.UUID(clinic_id)
    except ValueError:
        return None
    named = named_receptionist(receptionist_id)
    from telephony.agent_project import serving_annotations

    # With the projects that serve the clinic, for the worker's project check (0155).
    rows = (
        Receptionist.objects.select_related("clinic", *CALL_TIME_RELATED)
        .filter(clinic_id=key, clinic__state=Clinic.State.LIVE)
        .annotate(**serving_annotations())
    )
    wanted_first = Case(
        When(pk=named, then=Value(0)), default=Value(1), output_field=IntegerField()
    )
    return rows.order_by(wanted_first, "id").first()


def served_receptionist(clinic: Clinic, *, receptionist_id: str = "", room: str = "") -> Any:
    """The receptionist a job is for: the one named by id (the dispatch metadata), else the
    one whose line slug follows the clinic's prefix in the room name
    ("<prefix>_<line>_<caller>_<random>"), else the clinic's first.

    A job dispatched with metadata that names no receptionist (a rule provisioned before
    receptionists existed), or a receptionist deleted since the call was dispatched, gets the
    first receptionist: a caller is answered rather than dropped (decision 0064).
    """
    rows = Receptionist.objects.for_clinic(clinic).select_related("clinic", *CALL_TIME_RELATED)
    if receptionist_id.isdigit() and len(receptionist_id) < 19:
        row = rows.filter(pk=int(receptionist_id)).first()
        if row is not None:
            return row
    rest = room[len(clinic.room_prefix) + 1 :] if room.startswith(clinic.room_prefix) else ""
    line = rest.split(SEPARATOR, 1)[0] if SEPARATOR in rest else ""
    if line[:1].isalpha():
        row = rows.filter(slug=line).first()
        if row is not None:
            return row
    return rows.order_by("id").first()


def agent_config_payload(
    clinic: Clinic,
    config: Receptionist,
    at_call: CallTime | None = None,
    policy: CallLogPolicy | None = None,
) -> dict[str, Any]:
    """The receptionist's settings, with the call-time part: open now or not and until
    when, what to do when closed, and what it knows about the clinic (frontdesk.config)."""
    at_call = at_call or call_time(config)
    return {
        "clinic": str(clinic.pk),
        "clinic_name": clinic.name,
        "receptionist": config.pk,
        "receptionist_name": config.name,
        "line": config.slug,
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
        "keep_transcripts": (policy or CallLogPolicy.for_clinic(clinic)).keeps_transcripts,
        **at_call.payload,
    }
