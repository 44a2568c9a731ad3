"""Build LiveKit-shaped webhook bodies and sign them as LiveKit does (tests only)."""

from __future__ import annotations

import base64
import hashlib
import time

import jwt
from google.protobuf import json_format
from livekit import api

KEY, SECRET = "devkey", "webhook-test-secret-0123456789abcdef0123"
SIP = api.ParticipantInfo.Kind.Value("SIP")
AGENT = api.ParticipantInfo.Kind.Value("AGENT")


def body(
    event: str,
    *,
    room: str,
    sid: str = "RM_test0000001",
    at: int = 1_700_000_000,
    participant: dict | None = None,
    kind: int = SIP,
    event_id: str = "EV_1",
) -> str:
    message = api.WebhookEvent(
        event=event,
        id=event_id,
        created_at=at,
        room=api.Room(sid=sid, name=room, creation_time=1_700_000_000),
    )
    if participant is not None:
        message.participant.CopyFrom(
            api.ParticipantInfo(
                sid="PA_caller",
                identity=participant.get("identity", "sip_c15a31c71649a522"),
                name=participant.get("name", "Phone 4567"),
                attributes=participant.get("attributes", {}),
                kind=kind,
                joined_at=participant.get("joined_at", 1_700_000_001),
            )
        )
    return json_format.MessageToJson(message, indent=None)


def sign(text: str, *, secret: str = SECRET, key: str = KEY, exp_in: int = 300, **extra) -> str:
    now = int(time.time())
    claims = {"iss": key, "nbf": now - 1, "exp": now + exp_in}
    claims["sha256"] = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
    claims.update(extra)
    return jwt.encode(claims, secret, algorithm="HS256")
