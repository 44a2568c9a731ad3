"""/readyz's LiveKit check through the real client (livekit-api, the production gateway)
against the emulator over HTTP: healthy when it answers, unhealthy when it is down or
refuses the credentials."""

from __future__ import annotations

import pytest

from emulators.livekit.testing import EmulatorProcess
from tests.e2e.conftest import EMULATOR_KEY, EMULATOR_SECRET, point_at

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]

REAL_GATEWAY = "telephony.livekit_gateway.LiveKitGateway"


def _statuses(body: dict) -> dict:
    return {name: check["status"] for name, check in body["checks"].items()}


def test_readyz_reports_livekit_healthy_through_the_real_client(client, livekit, settings):
    settings.LIVEKIT_GATEWAY = REAL_GATEWAY
    seen_before = len(livekit.requests("ListSIPInboundTrunk"))

    r = client.get("/readyz")

    assert r.status_code == 200, r.content
    assert _statuses(r.json()) == {"database": "ok", "broker": "ok", "livekit": "ok"}
    probes = livekit.requests("ListSIPInboundTrunk")[seen_before:]
    assert [(p["status"], p["code"]) for p in probes] == [(200, "ok")]


def test_readyz_reports_livekit_down_when_the_emulator_is_stopped(client, settings):
    settings.LIVEKIT_GATEWAY = REAL_GATEWAY
    with EmulatorProcess(api_key=EMULATOR_KEY, api_secret=EMULATOR_SECRET) as emulator:
        point_at(settings, emulator)
        assert client.get("/readyz").status_code == 200
    # The same URL, now with nothing listening.

    r = client.get("/readyz")

    assert r.status_code == 503
    body = r.json()
    assert _statuses(body) == {"database": "ok", "broker": "ok", "livekit": "error"}
    assert body["checks"]["livekit"]["error"]
    assert EMULATOR_SECRET not in r.content.decode()


def test_readyz_reports_livekit_refusing_the_credentials(client, livekit, settings):
    settings.LIVEKIT_GATEWAY = REAL_GATEWAY
    settings.LIVEKIT_API_SECRET = "not-the-emulator-secret-0123456789abcdef"

    r = client.get("/readyz")

    assert r.status_code == 503
    assert _statuses(r.json())["livekit"] == "error"
    assert [p["status"] for p in livekit.requests("ListSIPInboundTrunk")][-1:] == [401]
