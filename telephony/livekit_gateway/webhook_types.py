"""What a verified LiveKit webhook becomes: small frozen dataclasses, and the refusal."""

from __future__ import annotations

from dataclasses import dataclass


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
