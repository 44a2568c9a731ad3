"""The agent's outcome post against the real platform over HTTP, through a proxy that holds
back the platform's first answer until the agent's attempt has timed out.

The first attempt reaches the platform (the outcome is stored) but the agent never hears so;
it retries with the same body and is told the outcome was already stored. One outcome."""

from __future__ import annotations

import asyncio
import random
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp import web

from agent.platform_client import PlatformClient, post_outcome
from telephony.agent_tokens import agent_token_create
from telephony.models import CallOutcome
from tests.factories import UserFactory, make_clinic

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
CALLER = "+14155559876"
BODY = {
    "consent": "granted",
    "consent_at": None,
    "outcome": "message_taken",
    "summary": "Caller: please ask Dr Lee to call me back.",
    "transcript": "Caller: please ask Dr Lee to call me back.",
}


def test_a_timed_out_first_post_is_retried_and_stored_once(live_server):
    clinic = make_clinic(UserFactory(email="owner@bright.example"), "Bright Smile Dental")
    _, token = agent_token_create(name="e2e-agent")
    room = f"{clinic.room_prefix}_{CALLER}_Ab3dE5fG7hJk"

    async def main():
        seen: list[bytes] = []
        release = asyncio.Event()
        upstream_lock = asyncio.Lock()  # the retry reaches the platform after the first post

        async def proxy(request: web.Request) -> web.Response:
            data = await request.read()
            seen.append(data)
            async with (
                upstream_lock,
                aiohttp.ClientSession() as http,
                http.post(
                    f"{live_server.url}{request.rel_url}", data=data, headers=request.headers
                ) as upstream,
            ):
                status, text = upstream.status, await upstream.text()
            if len(seen) == 1:
                await release.wait()  # the platform has answered; the agent never hears it
            return web.Response(status=status, text=text, content_type="application/json")

        app = web.Application()
        app.router.add_post("/{tail:.*}", proxy)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        client = PlatformClient(
            endpoint=f"{base}/api/v1/agent/config",
            token=token,
            backoff_base_s=0.01,
            backoff_cap_s=0.05,
            rng=random.Random(3),
        )
        try:
            url = f"{base}/api/v1/agent/calls/{quote(room, safe='')}/outcome"
            result = await post_outcome(client, url, BODY, deadline_s=20, attempt_timeout_s=1.0)
        finally:
            release.set()
            await client.aclose()
            await runner.cleanup()
        return result, seen

    result, seen = asyncio.run(main())
    assert result == "already_stored"
    assert len(seen) == 2 and seen[0] == seen[1]  # the retry is the same body
    (row,) = CallOutcome.objects.all()
    assert row.outcome == "message_taken" and row.clinic == clinic
    assert row.room_name == f"{clinic.room_prefix}_***9876_Ab3dE5fG7hJk"
