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

from agent.platform_client import RETRYABLE_STATUSES, redact

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
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.deadline_s
        last, attempt = "no attempt made", 0
        while (remaining := deadline - loop.time()) > 0:
            try:
                async with asyncio.timeout(min(self.attempt_timeout_s, remaining)):
                    async with self.session.post(
                        self.url, data=payload, headers=headers, allow_redirects=False
                    ) as resp:
                        status = resp.status
                        await resp.read()
            except TimeoutError:
                last = f"attempt {attempt + 1} timed out"
            except aiohttp.ClientError as exc:
                last = f"attempt {attempt + 1} failed: {type(exc).__name__}"
            else:
                answer = _answer(status)
                if answer is not None:
                    return answer
                last = f"attempt {attempt + 1}: HTTP {status}"
            delay = self.rng.uniform(0, min(self.backoff_cap_s, self.backoff_base_s * 2**attempt))
            attempt += 1
            if loop.time() + delay >= deadline:
                break
            await self.sleep(delay)
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
