"""Token checks, as LiveKit's ``APIKeyAuthMiddleware`` and the SIP handlers do them.

Reference: livekit-sip.md §3.2 and §2.2. Two failure shapes, deliberately different:

* the middleware (bad header, unparseable token, unknown key, bad signature, expired) answers
  **plain text, HTTP 401** before Twirp ever sees the request (:class:`AuthFailure`);
* a request with no token at all passes the middleware with no claims; the handler's grant check
  then answers Twirp ``unauthenticated`` "permissions denied" (also 401, but JSON).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jwt

LEEWAY_SECONDS = 60
BEARER_PREFIX = "Bearer "


class AuthFailure(Exception):
    """The middleware rejects the request: plain-text 401."""


@dataclass(frozen=True)
class Claims:
    """The parts of a LiveKit access token the SIP service looks at."""

    api_key: str
    sip_admin: bool = False
    sip_call: bool = False
    room_admin: bool = False
    room: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


def extract_token(authorization: str | None, query_token: str | None) -> str | None:
    """The token from ``Authorization: Bearer …`` or, failing a header, ``?access_token=``.

    A header that is present but not a Bearer header is a middleware failure.
    """
    if authorization:
        if not authorization.startswith(BEARER_PREFIX):
            raise AuthFailure("invalid authorization header. Must start with Bearer ")
        return authorization[len(BEARER_PREFIX) :]
    return query_token or None


def verify_token(token: str, keys: dict[str, str]) -> Claims:
    """Verify ``token`` against ``keys`` (API key -> secret) like LiveKit's verifier.

    HS256 only, issuer = API key, ``exp`` required, one minute of leeway (also for ``nbf``).
    """
    try:
        unverified = jwt.decode(token, options={"verify_signature": False}, algorithms=["HS256"])
    except jwt.PyJWTError as exc:
        raise AuthFailure(f"invalid token: {token}, error: {exc}") from exc
    api_key = unverified.get("iss")
    if not isinstance(api_key, str) or api_key not in keys:
        raise AuthFailure("invalid API key")
    try:
        payload = jwt.decode(
            token,
            key=keys[api_key],
            algorithms=["HS256"],
            issuer=api_key,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp"]},
        )
    except jwt.PyJWTError as exc:
        raise AuthFailure(f"invalid token: {token}, error: {exc}") from exc
    return _claims_from_payload(api_key, payload)


def _claims_from_payload(api_key: str, payload: dict[str, Any]) -> Claims:
    sip = payload.get("sip") if isinstance(payload.get("sip"), dict) else {}
    video = payload.get("video") if isinstance(payload.get("video"), dict) else {}
    assert isinstance(sip, dict) and isinstance(video, dict)
    return Claims(
        api_key=api_key,
        sip_admin=sip.get("admin") is True,
        sip_call=sip.get("call") is True,
        room_admin=video.get("roomAdmin") is True,
        room=str(video.get("room") or ""),
        raw=payload,
    )
