"""The gateway's errors, and how anything a LiveKit call raises maps onto them."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
from google.protobuf.message import DecodeError
from livekit import api

# LiveKit's wording of its two conflict errors (livekit-sip.md §4). Never matched: a
# conflict is recognised by structure (invalid_argument, then a list of the holders; see
# telephony/provisioning/reconcile.py). Kept for the test fakes that mimic LiveKit.
CONFLICT_TRUNK = "Conflicting inbound SIP Trunks"
CONFLICT_RULE = "Dispatch rule for the same trunk"
# The code of a call the shared rate limiter refused before sending anything.
LOCAL_RATE_LIMIT = "local_rate_limit"

# Twirp codes whose outcome is unknown or that clear by themselves: retry.
_TRANSIENT_CODES = {
    "unavailable",
    "resource_exhausted",
    "internal",
    "unknown",
    "deadline_exceeded",
    "canceled",
    "aborted",
    "dataloss",
}


# --- Errors -------------------------------------------------------------------------------


class LiveKitError(Exception):
    """Base of every gateway failure. `sentence` is safe to show to a person."""

    permanent = False

    def __init__(
        self,
        sentence: str,
        *,
        code: str = "",
        status: int | None = None,
        retry_after: float | None = None,
        request_id: str = "",
    ) -> None:
        super().__init__(sentence)
        self.sentence = sentence
        self.code = code
        self.status = status
        self.retry_after = retry_after
        self.request_id = request_id


class LiveKitTransientError(LiveKitError):
    """Connection errors, timeouts, 408, 429, 5xx, malformed replies: try again later."""


class LiveKitNotSent(LiveKitTransientError):
    """A call that waited for its turn past its start deadline: it was never sent."""


class LiveKitPermanentError(LiveKitError):
    """Bad requests and refusals: retrying the same call cannot help."""

    permanent = True


class LiveKitAuthError(LiveKitPermanentError):
    """LiveKit refused the platform's credentials (401) or grant (403)."""


class LiveKitRejectedError(LiveKitPermanentError):
    """invalid_argument, whatever its wording: a bad request, or a write that collides
    with an object already holding the same number or trunk. Which one is decided by
    listing the holders (the provisioning engine does), never by the message text."""


class LiveKitConflictError(LiveKitRejectedError):
    """A rejection confirmed as a conflict: another object holds the same key."""


class LiveKitNotFoundError(LiveKitPermanentError):
    """The object does not exist (not_found)."""


@dataclass
class CallInfo:
    """What the transport saw of the last call: for events and Retry-After."""

    request_id: str = ""
    retry_after: float | None = None
    status: int | None = None


# --- Error classification -----------------------------------------------------------------


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def project_auth_sentence(project: str) -> str:
    """A registered project's 401/403 (classify speaks of the LIVEKIT_* settings)."""
    return (
        f"LiveKit project {project} rejected its API credentials. An operator must give it "
        "a working key (manage.py livekit_project rotate-key)."
    )


def classify(exc: BaseException, info: CallInfo | None = None) -> LiveKitError:
    """Map anything a LiveKit call raised to a transient or permanent LiveKitError."""
    info = info or CallInfo()
    common: dict[str, Any] = {"request_id": info.request_id, "retry_after": info.retry_after}
    if isinstance(exc, LiveKitError):
        return exc
    if isinstance(exc, api.ServerError):
        code, status, msg = exc.code, exc.status, exc.message
        common.update(code=code, status=status)
        if status == 401 or code == "unauthenticated":
            common["code"] = "unauthenticated"
            return LiveKitAuthError(
                "LiveKit rejected Switchboard's API credentials. An operator must check "
                "LIVEKIT_API_KEY and LIVEKIT_API_SECRET.",
                **common,
            )
        if status == 403 or code == "permission_denied":
            common["code"] = "permission_denied"
            return LiveKitAuthError(
                "LiveKit refused the request: the API key lacks the SIP admin permission.",
                **common,
            )
        if code == "not_found":
            return LiveKitNotFoundError("The LiveKit object no longer exists.", **common)
        if status in (408, 429) or status >= 500 or code in _TRANSIENT_CODES:
            return LiveKitTransientError(
                f"LiveKit is temporarily unavailable ({status} {code}); retrying.", **common
            )
        if code == "invalid_argument":
            return LiveKitRejectedError(
                f"LiveKit rejected the request ({code}): {msg[:300]}", **common
            )
        return LiveKitPermanentError(
            f"LiveKit rejected the request ({code}): {msg[:300]}", **common
        )
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return LiveKitTransientError("LiveKit did not answer in time; retrying.", **common)
    if isinstance(exc, (aiohttp.ClientError, ConnectionError, OSError)):
        return LiveKitTransientError("LiveKit could not be reached; retrying.", **common)
    if isinstance(exc, DecodeError):
        return LiveKitTransientError("LiveKit sent a reply that could not be read.", **common)
    return LiveKitTransientError(f"Unexpected error talking to LiveKit ({type(exc).__name__}).")
