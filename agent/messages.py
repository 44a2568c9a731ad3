"""Posting a message the receptionist took: one idempotency key per message, the same body
on every retry, so a post that reached the platform before its answer was lost is not
stored twice (the platform answers 200 for the repeat; decision 0092)."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

import aiohttp

from agent.platform_client import RETRYABLE_STATUSES, post_until_answered, redact

logger = logging.getLogger("switchboard.agent")

Posted = Literal["stored", "already_stored", "conflict", "not_ours", "rejected", "failed"]
URGENCIES = ("normal", "urgent")


@dataclass
class MessagePoster:
    """Posts messages for one call. `session` is shared with the caller's other requests."""

    url: str
    token: str
    room: str
    session: aiohttp.ClientSession
    deadline_s: float = 20.0
    attempt_timeout_s: float = 4.0
    backoff_base_s: float = 0.2
    backoff_cap_s: float = 2.0
    rng: random.Random = field(default_factory=random.Random)
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    key_factory: Callable[[], str] = lambda: str(uuid.uuid4())

    async def post(
        self, *, caller_name: str, callback_number: str, reason: str, urgency: str
    ) -> Posted:
        """Post one message, retrying with the same key and body until answered. Never
        raises."""
        body = {
            "room": self.room,
            "caller_name": caller_name.strip(),
            "callback_number": callback_number.strip(),
            "reason": reason.strip(),
            "urgency": urgency if urgency in URGENCIES else "normal",
        }
        payload = json.dumps(body, separators=(",", ":")).encode()
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Content-Type": "application/json",
            "Idempotency-Key": self.key_factory(),
        }
        answer: Posted | None
        answer, last = await post_until_answered(
            self.session,
            self.url,
            payload,
            headers,
            _answer,
            deadline_s=self.deadline_s,
            attempt_timeout_s=self.attempt_timeout_s,
            backoff_base_s=self.backoff_base_s,
            backoff_cap_s=self.backoff_cap_s,
            rng=self.rng,
            sleep=self.sleep,
        )
        if answer is not None:
            return answer
        logger.error("message for room %s not delivered: %s", redact(self.room), last)
        return "failed"


def _answer(status: int) -> Posted | None:
    """What the platform's answer means; None: worth another attempt."""
    if status == 201:
        return "stored"
    if status == 200:
        return "already_stored"
    if status == 409:
        return "conflict"
    if status == 404:
        return "not_ours"
    if status in RETRYABLE_STATUSES:
        return None
    return "rejected"
