"""/healthz and /readyz: JSON, 200 when every dependency answers, 503 (never 500) when one
does not, and never a secret in the output."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import OperationalError

from telephony.livekit_gateway import LiveKitAuthError

pytestmark = pytest.mark.django_db


def test_healthz_is_up_without_touching_dependencies(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}
    assert "no-cache" in r["Cache-Control"]


def test_healthz_is_get_only(client):
    assert client.post("/healthz").status_code == 405


def _statuses(body: dict) -> dict:
    return {name: check["status"] for name, check in body["checks"].items()}


def test_readyz_is_200_when_everything_answers(client, fake_gateway):
    r = client.get("/readyz")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["status"] == "ok"
    assert _statuses(body) == {"database": "ok", "broker": "ok", "livekit": "ok"}
    assert all(set(c) == {"status", "duration_ms"} for c in body["checks"].values())
    assert fake_gateway.calls == ["list_inbound_trunks"]


def test_readyz_is_503_when_livekit_is_unreachable_and_reports_the_rest(client, settings):
    settings.LIVEKIT_URL = "http://127.0.0.1:1"
    settings.LIVEKIT_GATEWAY = "telephony.livekit_gateway.LiveKitGateway"

    r = client.get("/readyz")

    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "unavailable"
    assert _statuses(body) == {"database": "ok", "broker": "ok", "livekit": "error"}
    assert body["checks"]["livekit"]["error"]
    assert settings.LIVEKIT_API_SECRET not in r.content.decode()


def test_readyz_reports_a_livekit_credentials_problem_in_words(client, fake_gateway):
    fake_gateway.fail(
        "list_inbound_trunks", LiveKitAuthError("LiveKit rejected the key.", status=401)
    )
    r = client.get("/readyz")
    assert r.status_code == 503
    assert r.json()["checks"]["livekit"]["error"] == "LiveKit rejected the key."


def test_readyz_is_503_when_the_broker_is_down_and_hides_its_password(
    client, settings, fake_gateway
):
    settings.CELERY_BROKER_URL = "redis://:hunter2-broker-pw@127.0.0.1:1/0"

    r = client.get("/readyz")

    assert r.status_code == 503
    assert _statuses(r.json()) == {"database": "ok", "broker": "error", "livekit": "ok"}
    assert "hunter2-broker-pw" not in r.content.decode()


def test_readyz_is_503_when_the_database_fails_and_scrubs_the_error(client, settings, fake_gateway):
    settings.SECRET_KEY = "super-secret-key-for-this-test-0123456789"
    boom = OperationalError(
        "could not connect to postgres://app:db-pass-123@db:5432/x "
        "(super-secret-key-for-this-test-0123456789)"
    )
    with mock.patch("config.health.connection") as conn:
        conn.cursor.side_effect = boom
        r = client.get("/readyz")

    assert r.status_code == 503
    body = r.json()
    assert _statuses(body) == {"database": "error", "broker": "ok", "livekit": "ok"}
    error = body["checks"]["database"]["error"]
    assert error.startswith("OperationalError: could not connect to postgres://***@db:5432/x")
    assert "db-pass-123" not in r.content.decode()
    assert "super-secret-key" not in r.content.decode()


def test_readyz_never_answers_500_even_when_a_check_blows_up(client, fake_gateway):
    with mock.patch.dict("config.health.CHECKS", {"database": mock.Mock(side_effect=RuntimeError)}):
        r = client.get("/readyz")
    assert r.status_code == 503
    assert r.json()["checks"]["database"]["error"] == "RuntimeError"


def test_readyz_probe_skips_the_rate_limiter_and_uses_a_short_timeout(settings):
    from config.health import CHECK_TIMEOUT_SECONDS, check_livekit

    settings.LIVEKIT_GATEWAY = "telephony.livekit_gateway.LiveKitGateway"
    seen = {}

    def fake_list(self, **kwargs):
        seen.update(timeout=self.timeout, limiter=self.limiter, kwargs=kwargs)
        return []

    with mock.patch("telephony.livekit_gateway.LiveKitGateway.list_inbound_trunks", fake_list):
        check_livekit()

    assert seen == {
        "timeout": CHECK_TIMEOUT_SECONDS,
        "limiter": None,
        "kwargs": {"trunk_ids": ["ST_switchboard_readiness_probe"]},
    }


def test_readyz_probes_each_registered_project_and_scrubs_its_secret(client, fake_gateway):
    from telephony.models import LiveKitProject

    LiveKitProject.objects.create(
        name="eu-west",
        url="http://127.0.0.1:1",
        api_key="APIeu",
        api_secret="eu-west-secret-0123456789",
        sip_uri="sip:eu.example",
    )
    LiveKitProject.objects.create(
        name="old",
        url="http://127.0.0.1:1",
        api_key="k",
        api_secret="s",
        sip_uri="x",
        status=LiveKitProject.Status.RETIRED,
    )

    r = client.get("/readyz")

    body = r.json()
    assert r.status_code == 200 and body["status"] == "degraded"
    assert _statuses(body) == {
        "database": "ok",
        "broker": "ok",
        "livekit": "ok",
        "livekit:eu-west": "error",
    }  # a retired project is not probed
    assert body["livekit_down"] == ["livekit:eu-west"]
    assert "eu-west-secret" not in r.content.decode()
