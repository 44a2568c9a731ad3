"""Health endpoints."""

from __future__ import annotations

import pytest

from telephony.emulator.testing import EmulatorProcess

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_dependencies(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_readyz_reports_each_dependency_and_503_when_livekit_is_down(client, settings):
    settings.LIVEKIT_URL = "http://127.0.0.1:1"
    r = client.get("/readyz")
    body = r.json()
    assert r.status_code == 503
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is True
    assert body["checks"]["livekit"]["ok"] is False
    assert settings.LIVEKIT_API_SECRET not in r.content.decode()


def test_readyz_is_ok_with_a_reachable_livekit(client, settings):
    with EmulatorProcess(
        api_key="devkey", api_secret="readyz-secret-0123456789abcdef012345"
    ) as emu:
        settings.LIVEKIT_URL = emu.url
        settings.LIVEKIT_API_SECRET = "readyz-secret-0123456789abcdef012345"
        r = client.get("/readyz")
    assert r.status_code == 200, r.json()
    assert r.json()["status"] == "ok"
