"""Smoke test of `make run`'s embedded mode: SQLite, the SQLAlchemy broker on SQLite, the
emulator, web, worker and beat, all started by tools/run_local.py, and a clinic taken live
through the HTTP API. Ctrl-C (SIGINT) stops everything cleanly.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import wait_until

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, **kw: object) -> requests.Response | None:
    try:
        return requests.get(url, timeout=5, **kw)  # type: ignore[arg-type]
    except requests.ConnectionError:
        return None


def test_make_run_embedded_mode_takes_a_clinic_live(tmp_path):
    web, emu = _free_port(), _free_port()
    twilio, telnyx = _free_port(), _free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "DATABASE_URL",
            "REDIS_URL",
            "CELERY_BROKER_URL",
            "LIVEKIT_URL",
            "LIVEKIT_API_SECRET",
            "DJANGO_SETTINGS_MODULE",
            "CELERY_TASK_DEFAULT_QUEUE",
            # make run's own defaults apply (it turns email verification off for local use)
            "REQUIRE_EMAIL_VERIFICATION",
            "LIVEKIT_API_KEY",
            # make run starts the carrier emulators only when these are unset
            "TWILIO_API_BASE_URL",
            "TELNYX_API_BASE_URL",
        )
    }
    env.update(
        VAR_DIR=str(tmp_path),
        WEB_PORT=str(web),
        EMULATOR_PORT=str(emu),
        TWILIO_EMULATOR_PORT=str(twilio),
        TELNYX_EMULATOR_PORT=str(telnyx),
        DEBUG="true",
        PYTHONUNBUFFERED="1",
    )
    log = (tmp_path / "run.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tools.run_local"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{web}"
    try:

        def web_up() -> requests.Response | None:
            assert proc.poll() is None, (tmp_path / "run.log").read_text(errors="replace")[-3000:]
            return _get(f"{base}/healthz")

        wait_until(web_up, timeout=120, interval=0.5)
        api = requests.Session()
        r = api.post(
            f"{base}/api/v1/signup",
            json={
                "email": "solo@clinic.example",
                "password": "a-Long-passw0rd!",
                "clinic_name": "Solo",
            },
            timeout=30,
        )
        assert r.status_code == 201, r.text
        slug = r.json()["clinic"]["slug"]
        api.headers["Authorization"] = f"Token {r.json()['token']}"
        r = api.post(
            f"{base}/api/v1/clinics/{slug}/numbers/", json={"e164": "+14155550131"}, timeout=30
        )
        assert r.status_code == 201, r.text
        assert api.post(f"{base}/api/v1/clinics/{slug}/go-live/", timeout=30).status_code == 202

        def active() -> bool:
            # If make run stopped, say why: its log names the process that exited.
            log_tail = (tmp_path / "run.log").read_text(errors="replace")[-3000:]
            assert proc.poll() is None, log_tail
            try:
                r = api.get(f"{base}/api/v1/clinics/{slug}/provisioning/", timeout=30)
            except requests.ConnectionError as exc:
                raise AssertionError(f"{exc}\n{log_tail}") from None
            body = r.json()
            assert body["state"] != "failed", body
            return body["state"] == "active"

        wait_until(active, timeout=120, interval=0.5)
        state = requests.get(f"http://127.0.0.1:{emu}/_emulator/state", timeout=5).json()
        assert [t["numbers"] for t in state["inbound_trunks"]] == [["+14155550131"]]
        assert len(state["dispatch_rules"]) == 1
        for port in (twilio, telnyx):  # the carrier emulators are up, with their accounts
            carrier = requests.get(f"http://127.0.0.1:{port}/_emulator/state", timeout=5).json()
            assert len(carrier["numbers"]) == 3
        # A test call: the emulator's webhooks reach the call log on SQLite too
        # (telephony.call_portable; the webhook's own statements are PostgreSQL's).
        r = api.post(
            f"{base}/api/v1/clinics/{slug}/test-call/", json={"from": "+14155550199"}, timeout=30
        )
        assert r.status_code in (200, 201), r.text

        def logged() -> list | None:
            calls = api.get(f"{base}/api/v1/clinics/{slug}/calls/", timeout=30).json()
            rows = calls.get("results", calls) if isinstance(calls, dict) else calls
            return rows or None

        rows = wait_until(logged, timeout=60, interval=0.5)
        assert rows[0]["is_test"] is True, rows
        assert (tmp_path / "switchboard.sqlite3").exists()
        assert (tmp_path / "celery-broker.sqlite3").exists()
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            code = proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
        log.close()
    output = (tmp_path / "run.log").read_text(errors="replace")
    assert code == 0, output[-3000:]
    assert "stopped" in output
    deadline = time.monotonic() + 10
    while _get(f"{base}/healthz") is not None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _get(f"{base}/healthz") is None
