"""The receptionist in livekit-agents' text mode (AgentSession without audio, a scripted
LLM): the greeting for open and closed, and take_message posting to a platform on loopback
exactly once even when the first post times out after reaching it."""

import asyncio
import json
import random

import pytest

pytest.importorskip("livekit.agents")

import aiohttp
from aiohttp import web
from livekit.agents import AgentSession, llm
from livekit.agents.llm import ChatChunk, ChoiceDelta, FunctionToolCall
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS

from agent.agents import Receptionist
from agent.clinic_config import parse_config
from agent.messages import MessagePoster
from tests.agent.test_front_desk import call_time
from tests.agent.test_platform_client import TOKEN, config_body

ROOM = "brightsmile_+14155550199_Ab3dE5fG7hJk"
MESSAGE = {
    "caller_name": "Ana Lopez",
    "callback_number": "+14155550123",
    "reason": "Move Tuesday's cleaning to Thursday",
    "urgency": "normal",
}


class _Stream(llm.LLMStream):
    def __init__(self, owner, *, reply, **kwargs):
        super().__init__(owner, **kwargs)
        self._reply = reply

    async def _run(self):
        if isinstance(self._reply, tuple):
            name, args = self._reply
            call = FunctionToolCall(name=name, arguments=json.dumps(args), call_id="call_1")
            delta = ChoiceDelta(role="assistant", tool_calls=[call])
        else:
            delta = ChoiceDelta(role="assistant", content=self._reply)
        self._event_ch.send_nowait(ChatChunk(id="chunk", delta=delta))


class ScriptedLLM(llm.LLM):
    """Answers each turn with the next reply of its script: text, or (tool, arguments)."""

    def __init__(self, *script):
        super().__init__()
        self.script = list(script)
        self.instructions_seen = []

    def chat(self, *, chat_ctx, tools=None, conn_options=DEFAULT_API_CONNECT_OPTIONS, **_):
        self.instructions_seen.append(chat_ctx.items[0].text_content if chat_ctx.items else "")
        reply = self.script.pop(0) if self.script else "Goodbye."
        return _Stream(
            self, reply=reply, chat_ctx=chat_ctx, tools=tools or [], conn_options=conn_options
        )


class Platform:
    """POST /api/v1/agent/messages with the platform's contract: one message per
    Idempotency-Key, 201 then 200. The first request is stored and then answered too late."""

    def __init__(self, slow_first: float = 0.0):
        self.stored = {}
        self.requests = []
        self.slow_first = slow_first
        self.release = asyncio.Event()

    async def handle(self, request):
        key = request.headers.get("Idempotency-Key")
        body = await request.json()
        self.requests.append((key, request.headers.get("Authorization"), body))
        created = key not in self.stored
        self.stored.setdefault(key, body)
        if len(self.requests) == 1 and self.slow_first:
            await asyncio.wait_for(self.release.wait(), self.slow_first)
        return web.json_response({"id": 1, "created": created}, status=201 if created else 200)


async def _serve(platform):
    app = web.Application()
    app.router.add_post("/api/v1/agent/messages", platform.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/api/v1/agent/messages"


async def _call(config, user_input, *script, platform=None, room=ROOM):
    """Run the receptionist for one caller turn; returns the session's history items."""
    runner = url = None
    http = aiohttp.ClientSession()
    if platform is not None:
        runner, url = await _serve(platform)
    poster = MessagePoster(
        url=url or "http://127.0.0.1:1/none",
        token=TOKEN,
        room=room,
        session=http,
        attempt_timeout_s=0.3,
        backoff_base_s=0.01,
        backoff_cap_s=0.02,
        rng=random.Random(3),
    )
    agent = Receptionist(config, poster)
    try:
        async with ScriptedLLM(*script) as model, AgentSession(llm=model) as session:
            await session.start(agent)
            await session.run(user_input=user_input)
            items = [
                (i.type, getattr(i, "role", None), getattr(i, "text_content", None))
                for i in session.history.items
            ]
            outputs = [i.output for i in session.history.items if i.type == "function_call_output"]
            return items, outputs, agent
    finally:
        if platform is not None:
            platform.release.set()
        await http.close()
        if runner is not None:
            await runner.cleanup()


def _said(items):
    return [text for kind, role, text in items if kind == "message" and role == "assistant"]


def test_open_the_caller_hears_the_line_greeting():
    config = parse_config(config_body(**call_time(True)))
    items, outputs, agent = asyncio.run(_call(config, "Hi, are you open?", "Yes, we are."))
    assert _said(items)[0] == "Thank you for calling Bright Smile Dental, how can I help?"
    assert not agent.closed and outputs == []


def test_closed_the_after_hours_greeting_and_a_message_posted_exactly_once_despite_a_timeout():
    config = parse_config(
        config_body(**call_time(False, greeting="We are closed, but I can take a message."))
    )
    platform = Platform(slow_first=5.0)
    items, outputs, agent = asyncio.run(
        _call(
            config,
            "I'm Ana Lopez, please ask them to call me on +14155550123 about my cleaning.",
            ("take_message", MESSAGE),
            "Your message is saved; the team will call you back.",
            platform=platform,
        )
    )
    assert _said(items)[0] == "We are closed, but I can take a message."
    assert agent.closed
    # The first post reached the platform and timed out; the retry carried the same key.
    assert len(platform.requests) == 2
    (key1, auth, body1), (key2, _, body2) = platform.requests
    assert key1 == key2 and key1 and auth == f"Bearer {TOKEN}"
    assert body1 == body2 == {**MESSAGE, "room": ROOM}
    assert len(platform.stored) == 1
    assert agent.messages_posted == ["already_stored"]
    assert outputs and "saved" in outputs[0]


def test_two_messages_on_one_call_get_two_keys():
    async def scenario():
        platform = Platform()
        runner, url = await _serve(platform)
        async with aiohttp.ClientSession() as http:
            poster = MessagePoster(url=url, token=TOKEN, room=ROOM, session=http)
            first = await poster.post(**MESSAGE)
            second = await poster.post(**{**MESSAGE, "reason": "Also a question about a bill"})
        await runner.cleanup()
        return first, second, platform

    first, second, platform = asyncio.run(scenario())
    assert (first, second) == ("stored", "stored") and len(platform.stored) == 2


def test_an_unreachable_platform_is_failed_not_raised():
    async def scenario():
        async with aiohttp.ClientSession() as http:
            poster = MessagePoster(
                url="http://127.0.0.1:1/api/v1/agent/messages",
                token=TOKEN,
                room=ROOM,
                session=http,
                deadline_s=0.3,
                backoff_base_s=0.01,
                backoff_cap_s=0.02,
            )
            return await poster.post(**MESSAGE)

    assert asyncio.run(scenario()) == "failed"
