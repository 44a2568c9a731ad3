"""LiveKit's signed webhooks: verified and turned into small dataclasses."""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
from typing import Any

import jwt
from google.protobuf import json_format
from livekit import api

from telephony.livekit_gateway.webhook_json import read_event
from telephony.livekit_gateway.webhook_types import (
    WebhookEvent,
    WebhookParticipant,
    WebhookRejected,
    WebhookRoom,
)

__all__ = [
    "WebhookEvent",
    "WebhookParticipant",
    "WebhookRejected",
    "WebhookRoom",
    "verify_webhook",
]


def _seconds(ms: int, s: int) -> float | None:
    if ms:
        return ms / 1000
    return float(s) if s else None


def _webhook_event(message: Any) -> WebhookEvent:
    room = None
    if message.HasField("room"):
        r = message.room
        room = WebhookRoom(r.sid, r.name, _seconds(r.creation_time_ms, r.creation_time))
    person = None
    if message.HasField("participant"):
        p = message.participant
        person = WebhookParticipant(
            sid=p.sid,
            identity=p.identity,
            name=p.name,
            kind=api.ParticipantInfo.Kind.Name(p.kind) if p.kind else "STANDARD",
            attributes=dict(p.attributes),
            joined_at=_seconds(p.joined_at_ms, p.joined_at),
        )
    return WebhookEvent(message.id, message.event, float(message.created_at) or None, room, person)


def _library_event(body: str) -> WebhookEvent:
    """The body read by livekit-api's own parser (what its WebhookReceiver returns)."""
    message = json_format.Parse(body, api.WebhookEvent(), ignore_unknown_fields=True)
    return _webhook_event(message)


@functools.lru_cache(maxsize=32)  # a key pair per LiveKit project
def _verifier(api_key: str, api_secret: str) -> api.TokenVerifier:
    """One verifier per key pair and process: building it per delivery was repeated work."""
    return api.TokenVerifier(api_key, api_secret)


def verify_webhook(body: str, authorization: str, *, api_key: str, api_secret: str) -> WebhookEvent:
    """Check LiveKit's signature and return the event, in the steps of livekit-api's
    WebhookReceiver.receive: the token verified by its TokenVerifier (HS256 with the API
    secret, the key as issuer, `exp` required, so a captured webhook cannot be replayed
    once LiveKit's five minutes are up), then the body's SHA-256 against the token's
    `sha256` claim, then the body read. The token is decoded once. The body is read by
    `webhook_json.read_event`, or by the library's parser when it is not in the plain
    shape (decision 0144)."""
    if not authorization:
        raise WebhookRejected("missing Authorization header")
    try:
        claims = _verifier(api_key, api_secret).verify(authorization)
    except jwt.PyJWTError as exc:  # unsigned, wrongly signed, expired, another key: not LiveKit's
        raise WebhookRejected(f"bad signature token ({type(exc).__name__})") from None
    except Exception:  # a token whose grants do not read
        raise WebhookRejected("bad signature token") from None
    try:
        signed = base64.b64decode(claims.sha256 or "", validate=True)
    except (binascii.Error, ValueError):
        signed = b""
    if not signed or not hmac.compare_digest(signed, hashlib.sha256(body.encode()).digest()):
        raise WebhookRejected("body does not match its signature")
    event = read_event(body)
    if event is not None:
        return event
    try:
        return _library_event(body)
    except json_format.ParseError:
        raise WebhookRejected("signed body is not a LiveKit webhook event", status=400) from None
    except Exception:  # json_format's other refusals (a wrong type deep inside)
        raise WebhookRejected("signed body is not a LiveKit webhook event", status=400) from None


# Reference: https://docs.livekit.io/home/server/webhooks/#receiving-webhooks
