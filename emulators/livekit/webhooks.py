"""LiveKit-shaped webhooks for simulated calls, signed the way LiveKit signs them.

LiveKit posts ``application/webhook+json`` with ``Authorization: <jwt>``; the JWT is HS256 with
``iss`` = API key and a ``sha256`` claim holding base64(SHA-256(body)), which is what
``livekit.api.WebhookReceiver(TokenVerifier(key, secret)).receive(body, auth)`` checks.
Delivery runs in a background task, one call's events in order; failures are logged and kept in
``deliveries`` (exposed at ``GET /_emulator/webhooks``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import time
from collections import deque
from typing import Any

import aiohttp
import jwt
from google.protobuf import json_format
from livekit.protocol import models as proto_models
from livekit.protocol import webhook as proto_webhook

from .ids import EVENT_PREFIX, PARTICIPANT_PREFIX, ROOM_PREFIX, new_id

log = logging.getLogger("emulators.livekit.webhooks")
TOKEN_TTL_SECONDS = 300
EVENTS = ("room_started", "participant_joined", "participant_left", "room_finished")


def sign(body: str, api_key: str, api_secret: str) -> str:
    digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
    now = int(time.time())
    claims = {
        "iss": api_key,
        "sub": "",
        "nbf": now,
        "exp": now + TOKEN_TTL_SECONDS,
        "sha256": digest,
    }
    return jwt.encode(claims, api_secret, algorithm="HS256")


def call_events(call: dict[str, Any]) -> list[tuple[str, str]]:
    """The four events of a dispatched call, as JSON bodies."""
    now = int(time.time())
    room = proto_models.Room(
        sid=new_id(ROOM_PREFIX),
        name=call["room_name"],
        metadata=call.get("room_metadata", ""),
        creation_time=now,
        creation_time_ms=now * 1000,
    )
    who = call["participant"]
    person = proto_models.ParticipantInfo(
        sid=new_id(PARTICIPANT_PREFIX),
        identity=who["identity"],
        name=who["name"],
        metadata=who["metadata"],
        attributes=who["attributes"],
        kind=proto_models.ParticipantInfo.Kind.SIP,
        joined_at=now,
        joined_at_ms=now * 1000,
        state=proto_models.ParticipantInfo.State.ACTIVE,
    )
    bodies = []
    for event in EVENTS:
        message = proto_webhook.WebhookEvent(
            event=event, room=room, id=new_id(EVENT_PREFIX), created_at=int(time.time())
        )
        if event.startswith("participant_"):
            message.participant.CopyFrom(person)
        bodies.append((event, json_format.MessageToJson(message, indent=None)))
    return bodies


class WebhookSender:
    def __init__(self, url: str, api_key: str, api_secret: str, timeout_s: float = 5.0) -> None:
        self.url = url
        self.api_key = api_key
        self.api_secret = api_secret
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.deliveries: deque[dict[str, Any]] = deque(maxlen=1000)
        self._queue: asyncio.Queue[list[tuple[str, str]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self.pending = 0  # events queued or being posted

    def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=self.timeout)
        self._task = asyncio.create_task(self._run(), name="webhook-sender")

    def enqueue(self, bodies: list[tuple[str, str]]) -> None:
        self.pending += len(bodies)
        self._queue.put_nowait(bodies)

    async def _run(self) -> None:
        while True:
            bodies = await self._queue.get()
            for event, body in bodies:
                try:
                    await self._post(event, body)
                finally:
                    self.pending -= 1
            self._queue.task_done()

    async def _post(self, event: str, body: str) -> None:
        assert self._session is not None
        record: dict[str, Any] = {"event": event, "at": time.time(), "status": None, "error": ""}
        headers = {
            "Authorization": sign(body, self.api_key, self.api_secret),
            "Content-Type": "application/webhook+json",
        }
        try:
            async with self._session.post(self.url, data=body.encode(), headers=headers) as resp:
                record["status"] = resp.status
                await resp.read()
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            record["error"] = f"{type(exc).__name__}: {exc}"
            log.warning("webhook %s to %s failed: %s", event, self.url, record["error"])
        self.deliveries.append(record)

    async def drain(self, timeout_s: float = 5.0) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), timeout_s)

    async def close(self) -> None:
        await self.drain()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._session is not None:
            await self._session.close()
