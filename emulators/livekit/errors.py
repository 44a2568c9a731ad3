"""Twirp errors: codes, the HTTP status each maps to, and the JSON body LiveKit writes.

Reference: livekit-sip.md §2.2 (``twirp.ServerHTTPStatusFromErrorCode``, ``marshalErrorToJSON``).
"""

from __future__ import annotations

import json

HTTP_STATUS_BY_CODE: dict[str, int] = {
    "canceled": 408,
    "unknown": 500,
    "invalid_argument": 400,
    "malformed": 400,
    "deadline_exceeded": 408,
    "not_found": 404,
    "bad_route": 404,
    "already_exists": 409,
    "permission_denied": 403,
    "unauthenticated": 401,
    "resource_exhausted": 429,
    "failed_precondition": 412,
    "aborted": 409,
    "out_of_range": 400,
    "unimplemented": 501,
    "internal": 500,
    "unavailable": 503,
    "dataloss": 500,
}

# For fault rules that give only an HTTP status: the twirp code a Twirp server would send with it.
CODE_BY_HTTP_STATUS: dict[int, str] = {
    400: "invalid_argument",
    401: "unauthenticated",
    403: "permission_denied",
    404: "not_found",
    408: "deadline_exceeded",
    409: "aborted",
    412: "failed_precondition",
    429: "resource_exhausted",
    500: "internal",
    501: "unimplemented",
    503: "unavailable",
}


class TwirpError(Exception):
    """An error answered as Twirp JSON ``{"code", "msg"[, "meta"]}``."""

    def __init__(self, code: str, msg: str, meta: dict[str, str] | None = None) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.meta = dict(meta or {})

    @property
    def status(self) -> int:
        return HTTP_STATUS_BY_CODE.get(self.code, 500)

    def body(self) -> bytes:
        payload: dict[str, object] = {"code": self.code, "msg": self.msg}
        if self.meta:
            payload["meta"] = self.meta
        return json.dumps(payload).encode()


def invalid_argument(msg: str) -> TwirpError:
    return TwirpError("invalid_argument", msg)


def not_found(msg: str) -> TwirpError:
    return TwirpError("not_found", msg)


def bad_route(msg: str, http_method: str, path: str) -> TwirpError:
    return TwirpError("bad_route", msg, {"twirp_invalid_route": f"{http_method} {path}"})


def permissions_denied() -> TwirpError:
    # LiveKit answers a missing grant with unauthenticated (401), not permission_denied.
    return TwirpError("unauthenticated", "permissions denied")
