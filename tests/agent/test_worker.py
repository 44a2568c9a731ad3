"""agent/worker.py against the real livekit-agents API (skipped without the [agent] extra)."""

import asyncio
import json
import uuid

import pytest

pytest.importorskip("livekit.agents")

from livekit.agents import AgentServer, JobRequest
from livekit.protocol import agent as agent_proto
from livekit.protocol import models

from agent import worker
from agent.config import Settings
from agent.outcome import CallRecord

CLINIC = uuid.UUID("5b1c1f8e-8d0e-4c55-9a53-2f1f1c0e7a11")
SETTINGS = Settings(
    switchboard_url="http://127.0.0.1:8000",
    agent_token="t",
    livekit_url="ws://127.0.0.1:7880",
    livekit_api_key="devkey",
    livekit_api_secret="secret-of-at-least-32-characters-0123456789",
    agent_name="sb-test-receptionist",
)


def decide(metadata, room):
    calls = []

    async def on_reject(terminate):
        calls.append(("reject", terminate))

    async def on_accept(args):
        calls.append(("accept", args))

    job = agent_proto.Job(
        id="AJ_test",
        agent_name="sb-test-receptionist",
        metadata=metadata,
        room=models.Room(name=room),
    )
    asyncio.run(worker.on_request(JobRequest(job=job, on_reject=on_reject, on_accept=on_accept)))
    return calls


def test_the_server_registers_for_explicit_dispatch_by_agent_name(monkeypatch):
    monkeypatch.delenv("LIVEKIT_AGENT_NAME_OVERRIDE", raising=False)
    server = worker.build_server(SETTINGS)
    assert isinstance(server, AgentServer)
    assert server._agent_name == "sb-test-receptionist"  # no public getter in 1.8.9


def test_a_job_with_clinic_metadata_is_accepted_and_tagged_with_the_clinic():
    calls = decide(
        json.dumps({"clinic": str(CLINIC), "config_version": 2}), "bright_4567_Ab3dE5fG7hJk"
    )
    [(kind, args)] = calls
    assert kind == "accept"
    assert args.attributes == {"switchboard.clinic": str(CLINIC)}


def test_a_job_without_metadata_is_accepted_for_lookup_by_room():
    [(kind, args)] = decide("", "bright_4567_Ab3dE5fG7hJk")
    assert kind == "accept"
    assert args.attributes == {"switchboard.clinic": ""}


def test_a_job_that_names_no_clinic_is_rejected():
    assert decide("not json", "room-without-prefix") == [("reject", True)]


def test_the_agent_classes_build_on_the_real_api():
    from livekit.agents import Agent

    from agent.clinic_config import fallback_config
    from agent.consent import ConsentFlow

    receptionist_cls, consent_cls = worker._agent_classes()
    receptionist = receptionist_cls(fallback_config(CLINIC))
    consent = consent_cls(ConsentFlow("de-DE"), then=receptionist, record=CallRecord())
    assert isinstance(receptionist, Agent) and isinstance(consent, Agent)
