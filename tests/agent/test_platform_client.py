"""The agent config client against a real aiohttp server on loopback (agent/platform_client.py)."""

import asyncio
import json
import random
import socket
import uuid

import pytest
from aiohttp import web

from agent.clinic_config import FALLBACK_GREETING
from agent.metadata import JobTarget
from agent.platform_client import ClinicNotServed, PlatformClient

CLINIC = uuid.UUID("5b1c1f8e-8d0e-4c55-9a53-2f1f1c0e7a11")
TOKEN = "sb-agent-test-token"


def config_body(version=3, clinic=CLINIC, **overrides):
    body = {
        "clinic": str(clinic),
        "clinic_name": "Bright Smile Dental",
        "config_version": version,
        "agent_name": "switchboard-receptionist",
        "greeting": "Thank you for calling Bright Smile Dental, how can I help?",
        "instructions": "You are the receptionist of Bright Smile Dental.",
        "language": "en-GB",
        "voice": "ash",
        "stt_model": "deepgram/nova-3",
        "llm_model": "openai/gpt-4o-mini",
        "tts_model": "openai/gpt-4o-mini-tts",
        "recording_consent_required": True,
    }
    body.update(overrides)
    return body


def ok(version=3, **overrides):
    async def respond(request):
        return web.json_response(
            config_body(version, **overrides), headers={"ETag": f'"{version}"'}
        )

    return respond


def status(code):
    async def respond(request):
        return web.json_response({"detail": "no"}, status=code)

    return respond


class FakePlatform:
    """Serves GET /api/v1/agent/config from a script of responders; the last one repeats."""

    def __init__(self, *script):
        self.script = list(script)
        self.requests = []
        self.release = asyncio.Event()

    async def handle(self, request):
        self.requests.append(
            {
                "query": dict(request.query),
                "auth": request.headers.get("Authorization"),
                "if_none_match": request.headers.get("If-None-Match"),
            }
        )
        responder = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        return await responder(request)

    async def hang(self, request):
        await self.release.wait()  # set at teardown; the client's own timeout fires first
        return web.Response(status=204)

    async def not_modified(self, request):
        return web.Response(status=304, headers={"ETag": request.headers["If-None-Match"]})


def run_with_platform(script_factory, scenario, **client_options):
    async def main():
        platform = FakePlatform()
        platform.script = script_factory(platform)
        app = web.Application()
        app.router.add_get("/api/v1/agent/config", platform.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        options = {
            "deadline_s": 3.0,
            "attempt_timeout_s": 1.0,
            "backoff_base_s": 0.005,
            "backoff_cap_s": 0.02,
            "rng": random.Random(6),
            **client_options,
        }
        client = PlatformClient(
            endpoint=f"http://127.0.0.1:{port}/api/v1/agent/config", token=TOKEN, **options
        )
        try:
            return await scenario(client), platform
        finally:
            platform.release.set()
            await client.aclose()
            await runner.cleanup()

    return asyncio.run(main())


def by_clinic(version=None):
    return JobTarget(clinic=CLINIC, config_version=version, room="brightsmile_4567_Ab3dE5fG7hJk")


def test_200_returns_the_validated_config_and_sends_the_token():
    result, platform = run_with_platform(lambda p: [ok(3)], lambda c: c.fetch_config(by_clinic(3)))
    assert result.source == "platform"
    config = result.config
    assert (config.clinic, config.config_version, config.language) == (CLINIC, 3, "en-GB")
    assert config.recording_consent_required is True and not config.is_fallback
    assert platform.requests == [
        {"query": {"clinic": str(CLINIC)}, "auth": f"Bearer {TOKEN}", "if_none_match": None}
    ]


def test_a_room_target_asks_by_room_name():
    target = JobTarget(clinic=None, config_version=None, room="brightsmile_4567_Ab3dE5fG7hJk")
    result, platform = run_with_platform(lambda p: [ok(3)], lambda c: c.fetch_config(target))
    assert result.config.clinic == CLINIC
    assert platform.requests[0]["query"] == {"room": "brightsmile_4567_Ab3dE5fG7hJk"}


def test_an_unknown_language_becomes_the_default():
    result, _ = run_with_platform(
        lambda p: [ok(3, language="xx-YY")], lambda c: c.fetch_config(by_clinic())
    )
    assert result.config.language == "en-US"


def test_404_is_asked_exactly_once():
    async def scenario(client):
        with pytest.raises(ClinicNotServed):
            await client.fetch_config(by_clinic(3))

    _, platform = run_with_platform(lambda p: [status(404)], scenario)
    assert len(platform.requests) == 1


def test_401_gives_the_fallback_without_retrying():
    result, platform = run_with_platform(
        lambda p: [status(401)], lambda c: c.fetch_config(by_clinic(3))
    )
    assert result.source == "fallback"
    assert "agent token rejected (HTTP 401)" in result.detail
    assert result.config.greeting == FALLBACK_GREETING and result.config.is_fallback
    assert len(platform.requests) == 1


def test_5xx_is_retried_until_the_platform_recovers():
    result, platform = run_with_platform(
        lambda p: [status(503), status(500), ok(4)], lambda c: c.fetch_config(by_clinic(4))
    )
    assert result.source == "platform"
    assert result.config.config_version == 4
    assert len(platform.requests) == 3


def test_persistent_5xx_gives_the_fallback_after_max_attempts():
    result, platform = run_with_platform(
        lambda p: [status(502)], lambda c: c.fetch_config(by_clinic(3)), max_attempts=3
    )
    assert result.source == "fallback"
    assert "HTTP 502" in result.detail
    assert len(platform.requests) == 3
    assert result.config.clinic == CLINIC  # the fallback still knows which clinic it is for


def test_a_hanging_platform_gives_the_fallback_within_the_deadline():
    async def scenario(client):
        loop = asyncio.get_running_loop()
        started = loop.time()
        result = await client.fetch_config(by_clinic(3))
        return result, loop.time() - started

    (result, elapsed), platform = run_with_platform(
        lambda p: [p.hang], scenario, deadline_s=0.5, attempt_timeout_s=0.2
    )
    assert result.source == "fallback"
    assert "timed out" in result.detail
    assert 1 <= len(platform.requests) <= 3
    assert elapsed < 2.0  # the deadline bounds the wait (generous margin for slow CI)


def test_a_refused_connection_gives_the_fallback():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connections are refused

        async def main():
            async with PlatformClient(
                endpoint=f"http://127.0.0.1:{port}/api/v1/agent/config",
                token=TOKEN,
                deadline_s=1.0,
                backoff_base_s=0.005,
                backoff_cap_s=0.01,
                max_attempts=2,
            ) as client:
                return await client.fetch_config(by_clinic(3))

        result = asyncio.run(main())
    assert result.source == "fallback"
    assert "ClientConnectorError" in result.detail


@pytest.mark.parametrize(
    "body",
    [
        b"<html>oops</html>",
        json.dumps([1]).encode(),
        json.dumps(config_body(3, clinic=uuid.uuid4())).encode(),
        json.dumps({**config_body(3), "config_version": "3"}).encode(),
        json.dumps({**config_body(3), "recording_consent_required": 1}).encode(),
        json.dumps({k: v for k, v in config_body(3).items() if k != "instructions"}).encode(),
    ],
)
def test_a_malformed_200_gives_the_fallback_without_retrying(body):
    async def respond(request):
        return web.Response(body=body, content_type="application/json")

    result, platform = run_with_platform(
        lambda p: [respond], lambda c: c.fetch_config(by_clinic(3))
    )
    assert result.source == "fallback"
    assert "malformed agent config" in result.detail
    assert len(platform.requests) == 1


def test_the_same_config_version_is_served_from_the_cache_without_a_request():
    async def scenario(client):
        first = await client.fetch_config(by_clinic(3))
        second = await client.fetch_config(by_clinic(3))
        return first, second

    (first, second), platform = run_with_platform(lambda p: [ok(3)], scenario)
    assert (first.source, second.source) == ("platform", "cache")
    assert second.config == first.config
    assert len(platform.requests) == 1


def test_a_new_config_version_is_fetched_with_the_cached_etag():
    async def scenario(client):
        await client.fetch_config(by_clinic(3))
        return await client.fetch_config(by_clinic(4))

    result, platform = run_with_platform(lambda p: [ok(3), ok(4)], scenario)
    assert (result.source, result.config.config_version) == ("platform", 4)
    assert [r["if_none_match"] for r in platform.requests] == [None, '"3"']


def test_304_reuses_the_cached_config():
    async def scenario(client):
        await client.fetch_config(by_clinic(3))
        return await client.fetch_config(by_clinic(None))  # metadata without a version

    result, platform = run_with_platform(lambda p: [ok(3), p.not_modified], scenario)
    assert (result.source, result.config.config_version) == ("revalidated", 3)
    assert platform.requests[1]["if_none_match"] == '"3"'


def test_an_unreachable_platform_serves_a_stale_cached_config_before_the_fallback():
    async def scenario(client):
        await client.fetch_config(by_clinic(3))
        return await client.fetch_config(by_clinic(4))

    result, _ = run_with_platform(lambda p: [ok(3), status(503)], scenario, max_attempts=2)
    assert (result.source, result.config.config_version) == ("stale", 3)
    assert not result.config.is_fallback


def test_a_job_naming_a_receptionist_asks_for_it_and_caches_it_apart():
    """Two lines of one clinic at the same version are two configs, never one cache entry."""

    def line(target_receptionist, version=3):
        return JobTarget(
            clinic=CLINIC,
            config_version=version,
            room="brightsmile_4567_Ab3dE5fG7hJk",
            receptionist=target_receptionist,
        )

    async def scenario(client):
        spanish = await client.fetch_config(line(7))
        main = await client.fetch_config(line(None))
        again = await client.fetch_config(line(7))
        return spanish, main, again

    script = [ok(3, receptionist=7, language="es-ES"), ok(3, receptionist=1)]
    (spanish, main, again), platform = run_with_platform(lambda p: script, scenario)
    assert platform.requests[0]["query"] == {"clinic": str(CLINIC), "receptionist": "7"}
    assert platform.requests[1]["query"] == {"clinic": str(CLINIC)}
    assert (spanish.config.receptionist, spanish.config.language) == (7, "es-ES")
    assert (main.source, main.config.receptionist) == ("platform", 1)
    assert (again.source, again.config.receptionist) == ("cache", 7)
    assert len(platform.requests) == 2


def test_the_worker_says_its_project_and_logs_a_mismatch_the_platform_reports(caplog):
    """Decision 0155: X-Switchboard-Project goes with every fetch; the platform's
    X-Switchboard-Project-Mismatch is logged as an error, and the config is still used."""
    seen = []
    sentence = "This agent worker says it serves LiveKit project 'eu-west' ..."

    async def mismatched(request):
        seen.append(request.headers.get("X-Switchboard-Project"))
        headers = {"ETag": '"3"', "X-Switchboard-Project-Mismatch": sentence}
        if request.headers.get("If-None-Match"):
            return web.Response(status=304, headers=headers)
        return web.json_response(config_body(3), headers=headers)

    async def scenario(client):
        first = await client.fetch_config(by_clinic(None))
        return first, await client.fetch_config(by_clinic(None))

    with caplog.at_level("ERROR", logger="switchboard.agent"):
        (first, again), _ = run_with_platform(lambda p: [mismatched], scenario, project="eu-west")
    assert (first.source, again.source) == ("platform", "revalidated")
    assert seen == ["eu-west", "eu-west"]
    wrong = [r.getMessage() for r in caplog.records if "wrong LiveKit project" in r.getMessage()]
    assert len(wrong) == 2 and all(sentence in m for m in wrong)


def test_a_worker_without_a_project_sends_no_header():
    seen = []

    async def record(request):
        seen.append(request.headers.get("X-Switchboard-Project"))
        return await ok(3)(request)

    run_with_platform(lambda p: [record], lambda c: c.fetch_config(by_clinic(3)))
    assert seen == [None]
