"""LiveKit's signed webhooks: verified and turned into small dataclasses."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import jwt
from google.protobuf import json_format
from livekit import api

# --- Webhooks -----------------------------------------------------------------------------


class WebhookRejected(Exception):
    """A webhook that is not provably LiveKit's: unsigned, wrongly signed, stale, or unreadable."""

    def __init__(self, reason: str, *, status: int = 401) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class WebhookRoom:
    sid: str
    name: str
    created_at: float | None  # unix seconds


@dataclass(frozen=True)
class WebhookParticipant:
    sid: str
    identity: str
    name: str
    kind: str  # "SIP", "AGENT", "STANDARD", ...
    attributes: dict[str, str]
    joined_at: float | None


@dataclass(frozen=True)
class WebhookEvent:
    id: str
    event: str
    created_at: float | None
    room: WebhookRoom | None
    participant: WebhookParticipant | None


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


@functools.lru_cache(maxsize=32)  # a key pair per LiveKit project
def _receiver(api_key: str, api_secret: str) -> api.WebhookReceiver:
    """One receiver per key pair and process: building it per delivery was repeated work."""
    return api.WebhookReceiver(api.TokenVerifier(api_key, api_secret))


# Reference: https://docs.livekit.io/home/server/webhooks/#receiving-webhooks
def verify_webhook(body: str, authorization: str, *, api_key: str, api_secret: str) -> WebhookEvent:
    """Check LiveKit's signature (a JWT over the body's SHA-256, HS256 with the API secret,
    `exp` required) and return the event. Expired tokens (LiveKit signs for five minutes)
    are rejected, so a captured webhook cannot be replayed later. The token is decoded once:
    WebhookReceiver.receive verifies it, then checks the body's hash, then parses."""
    if not authorization:
        raise WebhookRejected("missing Authorization header")
    try:
        message = _receiver(api_key, api_secret).receive(body, authorization)
    except jwt.PyJWTError as exc:  # unsigned, wrongly signed, expired, another key: not LiveKit's
        raise WebhookRejected(f"bad signature token ({type(exc).__name__})") from None
    except json_format.ParseError:
        raise WebhookRejected("signed body is not a LiveKit webhook event", status=400) from None
    except Exception:  # no body hash in the token, or it does not match the body
        raise WebhookRejected("body does not match its signature") from None
    return _webhook_event(message)
