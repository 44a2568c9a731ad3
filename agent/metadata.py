"""Which clinic a job is for: the dispatch metadata first, the room name second.

Each clinic's dispatch rule dispatches the platform agent with
`room_config.agents = [{agent_name, metadata:
'{"clinic": "<uuid>", "receptionist": <id>, "config_version": n}'}]`, which reaches the worker
as `ctx.job.metadata` (docs/agent.md). Rules provisioned before receptionists existed carry no
"receptionist": the platform then answers with the clinic's first receptionist. A job without
metadata (a rule provisioned before the metadata existed, or a dispatch made by hand) is
resolved by its room name, which starts with the clinic's room prefix; the platform does that
lookup.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass

# Room names from an Individual rule: "<prefix>_<caller or its last 4 digits>_<12 random>".
# Only a sanity check here; the platform owns the prefix -> clinic mapping.
_ROOM_NAME = re.compile(r"^[a-z0-9-]{3,40}_\S+$")
MAX_METADATA_BYTES = 4096


class MetadataError(ValueError):
    """The job metadata is present but not the JSON the dispatch contract promises."""


class UnroutableJob(ValueError):
    """Neither the metadata nor the room name says which clinic this job is for."""


@dataclass(frozen=True)
class DispatchMetadata:
    clinic: uuid.UUID
    config_version: int | None
    receptionist: int | None = None


@dataclass(frozen=True)
class JobTarget:
    """What to ask the platform for: a clinic id (preferred) or a room name."""

    clinic: uuid.UUID | None
    config_version: int | None
    room: str
    metadata_error: str | None = None
    receptionist: int | None = None

    @property
    def by_room(self) -> bool:
        return self.clinic is None


def parse_job_metadata(raw: str) -> DispatchMetadata:
    """Parse `{"clinic": "<uuid>", "receptionist": <int>, "config_version": <int>}`
    ("receptionist" optional); MetadataError says what is wrong."""
    if len(raw.encode()) > MAX_METADATA_BYTES:
        raise MetadataError(f"job metadata is larger than {MAX_METADATA_BYTES} bytes")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise MetadataError(f"job metadata is not JSON ({exc.msg} at {exc.pos})") from None
    if not isinstance(data, dict):
        raise MetadataError(f"job metadata must be a JSON object, got {type(data).__name__}")
    clinic_raw = data.get("clinic")
    if not isinstance(clinic_raw, str) or not clinic_raw.strip():
        raise MetadataError('job metadata has no "clinic" (a clinic uuid string)')
    try:
        clinic = uuid.UUID(clinic_raw.strip())
    except ValueError:
        raise MetadataError(f'job metadata "clinic" is not a uuid: {clinic_raw[:64]!r}') from None
    version = data.get("config_version")
    # bool is an int subclass; true/false is a bug upstream, not a version.
    if version is not None and (type(version) is not int or version < 0):
        raise MetadataError(
            f'job metadata "config_version" must be a non-negative integer, got {version!r}'
        )
    receptionist = data.get("receptionist")
    if receptionist is not None and (type(receptionist) is not int or receptionist < 1):
        raise MetadataError(
            f'job metadata "receptionist" must be a positive integer, got {receptionist!r}'
        )
    return DispatchMetadata(clinic=clinic, config_version=version, receptionist=receptionist)


def resolve_target(metadata: str | None, room_name: str | None) -> JobTarget:
    """Decide how to look the clinic up for a job.

    Missing metadata -> by room. Malformed metadata is a provisioning bug; the caller should
    still be answered, so it too falls back to the room (the error travels along for logging).
    """
    room = (room_name or "").strip()
    error: str | None = None
    if metadata and metadata.strip():
        try:
            parsed = parse_job_metadata(metadata)
        except MetadataError as exc:
            error = str(exc)
        else:
            return JobTarget(
                clinic=parsed.clinic,
                config_version=parsed.config_version,
                room=room,
                receptionist=parsed.receptionist,
            )
    if room and _ROOM_NAME.match(room):
        return JobTarget(clinic=None, config_version=None, room=room, metadata_error=error)
    reason = error or "job metadata is empty"
    raise UnroutableJob(f"{reason}, and room name {room!r} carries no clinic prefix")
