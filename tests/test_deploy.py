"""Production settings: `check --deploy` is clean, and a process refuses to start without
its secrets or with timeouts that do not nest (each failure names the setting)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[1]


def production_env(**overrides: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DEBUG", "SECURE_", "SESSION_", "CSRF_"))
    }
    env.update(
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(64),
        FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        LIVEKIT_API_SECRET=secrets.token_urlsafe(40),
        ALLOWED_HOSTS="switchboard.example.org",
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
    )
    env.update(overrides)
    return {k: v for k, v in env.items() if v != "<unset>"}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_has_no_findings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("name", ["SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "LIVEKIT_API_SECRET"])
def test_production_refuses_to_start_without_a_secret(name):
    result = manage("check", env=production_env(**{name: "<unset>"}))
    assert result.returncode != 0
    assert f"{name} must be set" in result.stderr


def test_timeouts_that_do_not_nest_refuse_to_start():
    result = manage("check", env=production_env(CELERY_TASK_TIME_LIMIT="2000"))
    assert result.returncode != 0
    assert (
        "CELERY_TASK_TIME_LIMIT" in result.stderr
        and "CELERY_BROKER_VISIBILITY_TIMEOUT" in result.stderr
    )


def test_a_sloppy_boolean_is_refused():
    result = manage("check", env=production_env(REQUIRE_EMAIL_VERIFICATION="maybe"))
    assert result.returncode != 0 and "REQUIRE_EMAIL_VERIFICATION" in result.stderr


def test_production_without_redis_fails_its_checks():
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING", env=production_env(REDIS_URL="<unset>")
    )
    assert result.returncode != 0 and "django_ratelimit" in result.stderr
