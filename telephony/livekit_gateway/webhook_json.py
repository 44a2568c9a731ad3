"""The fields of a LiveKit webhook the call log uses, read straight from its JSON.

LiveKit posts a `WebhookEvent` in protobuf's JSON mapping. livekit-api's receiver turns the
whole body into protobuf messages with `json_format.Parse`, a walk over every field's
descriptor in Python: about 190 µs of a webhook's CPU, three quarters of verifying and
reading it (decision 0144). The call log reads eleven fields, so they are read here from
`json.loads`, as the mapping defines them: each field under its JSON name (lowerCamelCase)
or its proto name, 64-bit integers as a number or a decimal string, the participant's kind
as its enum name or number, unknown fields ignored.

Anything off that plain shape (a null, a wrong type, a field given under both names, an
unknown enum number) is not guessed at: `read_event` returns None and the caller hands the
body to the library's parser, which reads it or refuses it exactly as before.
`tests/telephony/test_webhook_json.py` checks both readers agree.
"""

from __future__ import annotations

import json
from typing import Any

from livekit import api

from telephony.livekit_gateway.webhook_types import WebhookEvent, WebhookParticipant, WebhookRoom

_KINDS = api.ParticipantInfo.Kind
KIND_NAMES = frozenset(_KINDS.keys())
KIND_BY_NUMBER = {number: name for name, number in _KINDS.items()}


class OffShape(Exception):
    """The body is not in the plain shape: let the library read it."""


def read_event(body: str) -> WebhookEvent | None:
    """The event, or None when the body needs the library's parser."""
    try:
        data = json.loads(body)
        if not isinstance(data, dict):
            return None
        return _event(data)
    except (OffShape, ValueError, RecursionError):
        return None


def _field(data: dict[str, Any], json_name: str, proto_name: str) -> Any:
    if json_name == proto_name:
        return data.get(json_name)
    if json_name in data and proto_name in data:
        raise OffShape(json_name)  # the library refuses a field given twice
    return data.get(json_name, data.get(proto_name))


def _text(data: dict[str, Any], json_name: str, proto_name: str | None = None) -> str:
    value = _field(data, json_name, proto_name or json_name)
    if value is None and (json_name in data or (proto_name or json_name) in data):
        raise OffShape(json_name)  # null: left to the library
    if value is None:
        return ""
    if not isinstance(value, str):
        raise OffShape(json_name)
    return value


def _int64(data: dict[str, Any], json_name: str, proto_name: str) -> int:
    value = _field(data, json_name, proto_name)
    if value is None:
        if json_name in data or proto_name in data:
            raise OffShape(json_name)
        return 0
    if isinstance(value, bool):
        raise OffShape(json_name)
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.lstrip("-").isdigit() and value.isascii():
        number = int(value)
    else:
        raise OffShape(json_name)  # a float, an exponent, "1.0": the library's rules
    if not -(2**63) <= number < 2**63:
        raise OffShape(json_name)
    return number


def _message(data: dict[str, Any], name: str) -> dict[str, Any] | None:
    value = data.get(name)
    if value is None:
        if name in data:
            raise OffShape(name)
        return None
    if not isinstance(value, dict):
        raise OffShape(name)
    return value


def _seconds(ms: int, s: int) -> float | None:
    if ms:
        return ms / 1000
    return float(s) if s else None


def _event(data: dict[str, Any]) -> WebhookEvent:
    room = None
    raw_room = _message(data, "room")
    if raw_room is not None:
        room = WebhookRoom(
            _text(raw_room, "sid"),
            _text(raw_room, "name"),
            _seconds(
                _int64(raw_room, "creationTimeMs", "creation_time_ms"),
                _int64(raw_room, "creationTime", "creation_time"),
            ),
        )
    person = None
    raw_person = _message(data, "participant")
    if raw_person is not None:
        person = WebhookParticipant(
            sid=_text(raw_person, "sid"),
            identity=_text(raw_person, "identity"),
            name=_text(raw_person, "name"),
            kind=_kind(raw_person),
            attributes=_attributes(raw_person),
            joined_at=_seconds(
                _int64(raw_person, "joinedAtMs", "joined_at_ms"),
                _int64(raw_person, "joinedAt", "joined_at"),
            ),
        )
    created = _int64(data, "createdAt", "created_at")
    return WebhookEvent(
        _text(data, "id"), _text(data, "event"), float(created) or None, room, person
    )


def _kind(data: dict[str, Any]) -> str:
    value = data.get("kind")
    if value is None:
        if "kind" in data:
            raise OffShape("kind")
        return "STANDARD"
    if isinstance(value, str) and value in KIND_NAMES:
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value in KIND_BY_NUMBER:
        return KIND_BY_NUMBER[value]
    raise OffShape("kind")


def _attributes(data: dict[str, Any]) -> dict[str, str]:
    value = data.get("attributes")
    if value is None:
        if "attributes" in data:
            raise OffShape("attributes")
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise OffShape("attributes")
    return dict(value)
