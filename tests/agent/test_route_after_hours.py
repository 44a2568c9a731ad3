"""The after-hours hand-over to a chosen receptionist (route-to), in livekit-agents' text mode:
the worker's own `config_for_call` asks a platform on loopback for the line's config, finds
the clinic closed and the line routing to another receptionist, fetches that receptionist's
config, and the session answers with it (its greeting and instructions, as when open). A
message taken then is posted once, for the call's room (the line's room, which the call
keeps). If the chosen receptionist's config cannot be had, the line answers closed itself."""

import asyncio
import json

import pytest

pytest.importorskip("livekit.agents")

from aiohttp import web

from agent import worker
from agent.config import Settings
from agent.metadata import resolve_target
from agent.platform_client import ConfigCache
from tests.agent.test_front_desk import call_time
from tests.agent.test_platform_client import CLINIC, TOKEN, config_body
from tests.agent.test_take_message import MESSAGE, Platform, ScriptedLLM, _call, _said

MAIN, NIGHT = 11, 12
ROOM = "brightsmile_main_+14155550199_Ab3dE5fG7hJk"
METADATA = json.dumps(
    {"clinic": str(CLINIC), "receptionist": MAIN, "line": "main", "config_version": 3}
)
MAIN_CLOSED_GREETING = "Main line: we are closed."
NIGHT_GREETING = "Night line here, how can I help you tonight?"
NIGHT_INSTRUCTIONS = "You are the night line of Bright Smile Dental. Triage urgent pain."


def _main_body():
    return config_body(
        receptionist=MAIN,
        receptionist_name="Main line",
        line="main",
        **call_time(
            False,
            action="route",
            greeting=MAIN_CLOSED_GREETING,
            route_to={"id": NIGHT, "name": "Night line", "line": "night-line"},
        ),
    )


def _night_body():
    # The platform answers the night line with its own call-time part: closed, take a message.
    return config_body(
        version=5,
        receptionist=NIGHT,
        receptionist_name="Night line",
        line="night-line",
        greeting=NIGHT_GREETING,
        instructions=NIGHT_INSTRUCTIONS,
        **call_time(False, greeting="Night line: closed greeting, never heard here."),
    )


class ConfigPlatform:
    """GET /api/v1/agent/config as the platform answers it, per receptionist."""

    def __init__(self, night_status=200):
        self.asked = []
        self.projects = []  # X-Switchboard-Project of each fetch (decision 0155)
        self.night_status = night_status

    async def handle(self, request):
        assert request.headers.get("Authorization") == f"Bearer {TOKEN}"
        self.asked.append(dict(request.query))
        self.projects.append(request.headers.get("X-Switchboard-Project"))
        if request.query.get("receptionist") == str(NIGHT):
            if self.night_status != 200:
                return web.json_response({"detail": "busy"}, status=self.night_status)
            return web.json_response(_night_body(), headers={"ETag": '"night-5"'})
        return web.json_response(_main_body(), headers={"ETag": '"main-3"'})


async def _config_for_call(platform):
    app = web.Application()
    app.router.add_get("/api/v1/agent/config", platform.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    settings = Settings(
        switchboard_url=f"http://127.0.0.1:{runner.addresses[0][1]}",
        agent_token=TOKEN,
        livekit_url="ws://127.0.0.1:1",
        livekit_api_key="k",
        livekit_api_secret="s",
        config_deadline_s=2.0,
    )
    try:
        return await worker.config_for_call(settings, resolve_target(METADATA, ROOM))
    finally:
        await runner.cleanup()


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch):
    monkeypatch.setattr(worker, "_CACHE", ConfigCache())


def test_closed_the_line_hands_the_call_to_the_chosen_after_hours_receptionist():
    platform = ConfigPlatform()
    config = asyncio.run(_config_for_call(platform))
    # The line's config first, then the chosen receptionist's, by id.
    assert [q.get("receptionist") for q in platform.asked] == [str(MAIN), str(NIGHT)]
    assert all(q["clinic"] == str(CLINIC) for q in platform.asked)
    assert platform.projects == ["default", "default"]  # the worker's SWITCHBOARD_PROJECT
    assert config.receptionist == NIGHT and config.call_time.open_now is True

    messages = Platform()
    llm_script = (("take_message", MESSAGE), "Your message is saved; the team will call you.")
    items, outputs, agent = asyncio.run(
        _call(
            config,
            "My tooth hurts badly, please call me back.",
            *llm_script,
            platform=messages,
            room=ROOM,
        )
    )
    said = _said(items)
    assert said[0] == NIGHT_GREETING  # the night line's own greeting, not a closed one
    assert MAIN_CLOSED_GREETING not in said and not agent.closed
    # The message is posted once, for the room the call is in.
    assert len(messages.stored) == 1
    ((_, _, body),) = messages.requests
    assert body == {**MESSAGE, "room": ROOM}
    assert agent.messages_posted == ["stored"] and "saved" in outputs[0]


def test_the_instructions_are_the_after_hours_receptionists_as_when_open():
    config = asyncio.run(_config_for_call(ConfigPlatform()))
    seen = {}

    class Watching(ScriptedLLM):
        def chat(self, *, chat_ctx, **kwargs):
            seen["instructions"] = chat_ctx.items[0].text_content
            return super().chat(chat_ctx=chat_ctx, **kwargs)

    from livekit.agents import AgentSession

    from agent.agents import Receptionist

    async def scenario():
        async with Watching("Of course.") as model, AgentSession(llm=model) as session:
            await session.start(Receptionist(config))
            await session.run(user_input="Are you there?")

    asyncio.run(scenario())
    assert NIGHT_INSTRUCTIONS in seen["instructions"]
    assert "The clinic is closed right now" not in seen["instructions"]


def test_when_the_chosen_receptionist_cannot_be_fetched_the_line_answers_closed_itself():
    platform = ConfigPlatform(night_status=503)
    config = asyncio.run(_config_for_call(platform))
    assert config.receptionist == MAIN and config.call_time.open_now is False
    items, _, agent = asyncio.run(_call(config, "Hello?", "We are closed."))
    assert _said(items)[0] == MAIN_CLOSED_GREETING and agent.closed
