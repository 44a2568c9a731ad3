"""The agent's config fetch against the real platform over HTTP, with the worker's project
(decision 0155): the worker's header and the platform's answer agree on their names. A
worker of the clinic's project revalidates with a 304 and logs nothing; a worker of another
project still gets the config (the caller is served) and logs the mismatch the platform
names, at every pickup."""

from __future__ import annotations

import asyncio
import logging

import pytest

from agent.metadata import JobTarget
from agent.platform_client import PlatformClient
from telephony.agent_tokens import agent_token_create
from telephony.models import LiveKitProject
from tenants.models import Clinic
from tests.factories import UserFactory, make_clinic

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def fetch_twice(live_server, token: str, clinic: Clinic, project: str):
    async def main():
        async with PlatformClient(
            endpoint=f"{live_server.url}/api/v1/agent/config", token=token, project=project
        ) as client:
            target = JobTarget(clinic=clinic.pk, config_version=None, room="")
            return [await client.fetch_config(target), await client.fetch_config(target)]

    return asyncio.run(main())


def test_the_workers_project_is_checked_over_http(live_server, caplog):
    clinic = make_clinic(UserFactory(email="owner@group.example"), "Group Dental")
    eu = LiveKitProject.objects.create(
        name="eu-west",
        url="https://eu-west.livekit.example",
        api_key="key-eu",
        api_secret="secret-of-eu-west-0123456789",
        sip_uri="sip:eu-west.example",
    )
    Clinic.objects.filter(pk=clinic.pk).update(state=Clinic.State.LIVE, livekit_project=eu)
    _, token = agent_token_create(name="e2e-agent")

    with caplog.at_level(logging.ERROR, logger="switchboard.agent"):
        right = fetch_twice(live_server, token, clinic, "eu-west")
    assert [r.source for r in right] == ["platform", "revalidated"]
    assert not [r for r in caplog.records if "wrong LiveKit project" in r.getMessage()]

    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="switchboard.agent"):
        wrong = fetch_twice(live_server, token, clinic, "default")
    assert [r.source for r in wrong] == ["platform", "revalidated"]  # the caller is served
    assert wrong[0].config.clinic == clinic.pk and not wrong[0].config.is_fallback
    logged = [r.getMessage() for r in caplog.records if "wrong LiveKit project" in r.getMessage()]
    assert len(logged) == 2
    assert all("'default'" in m and "arrive through eu-west" in m for m in logged)
