"""Acceptance: the call loop with real parts.

A clinic goes live (celery worker subprocess -> livekit-api -> emulator subprocess); a simulated
call to its number reaches a room with its prefix and dispatches the platform agent with
metadata that the agent config API (over HTTP, agent token) resolves to that clinic's config;
the emulator's signed webhooks (over HTTP, to live_server) create exactly one call log entry
for that clinic and none for the other, also when every webhook is delivered twice.

Webhooks pass through a small recording proxy so the test can redeliver LiveKit's exact
bytes and Authorization headers, as LiveKit's own retries would.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from emulators.livekit.testing import EmulatorProcess
from telephony import services
from telephony.agent_tokens import agent_token_create
from telephony.calllog import redact_room_name
from telephony.models import Call, Provisioning, Receptionist
from tests.api_helpers import user_token
from tests.e2e.conftest import (
    EMULATOR_KEY,
    EMULATOR_SECRET,
    Worker,
    point_at,
    wait_until,
    worker_on_own_queue,
)
from tests.factories import UserFactory, make_clinic

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CALLER = "+14155559876"
N_BRIGHT, N_OTHER = "+14155550141", "+14155550142"


class WebhookRecorder:
    """Forwards each webhook to the platform and keeps (body, Authorization, status)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.deliveries: list[tuple[bytes, str, int]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                auth = self.headers.get("Authorization", "")
                r = requests.post(
                    recorder.target,
                    data=body,
                    headers={"Authorization": auth, "Content-Type": "application/webhook+json"},
                    timeout=10,
                )
                recorder.deliveries.append((body, auth, r.status_code))
                self.send_response(r.status_code)
                self.end_headers()
                self.wfile.write(r.content)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder(live_server: Any) -> Iterator[WebhookRecorder]:
    rec = WebhookRecorder(f"{live_server.url}/webhooks/livekit")
    yield rec
    rec.close()


@pytest.fixture
def call_emulator(recorder: WebhookRecorder, settings: Any) -> Iterator[EmulatorProcess]:
    """An emulator of its own whose webhooks go (through the recorder) to live_server."""
    with EmulatorProcess(
        api_key=EMULATOR_KEY, api_secret=EMULATOR_SECRET, webhook_url=recorder.url
    ) as emu:
        point_at(settings, emu)
        yield emu


@pytest.fixture
def call_worker(transactional_db: None, call_emulator: EmulatorProcess) -> Iterator[Worker]:
    with worker_on_own_queue(call_emulator.url, "e2e-calls") as w:
        yield w


def go_live(name: str, number: str, greeting: str):
    owner = UserFactory()
    clinic = make_clinic(owner, name)
    services.phone_number_add(clinic=clinic, number=number)
    services.agent_config_update(clinic=clinic, greeting=greeting)
    services.clinic_go_live(clinic=clinic, actor=owner)  # enqueues reconcile on commit
    return clinic, owner


def active(clinic) -> bool:
    prov = Provisioning.objects.get(clinic=clinic)
    assert prov.state != Provisioning.State.FAILED, prov.last_error
    return prov.state == Provisioning.State.ACTIVE and prov.converged


def test_a_call_reaches_the_clinics_agent_and_is_logged_once(
    live_server, call_emulator, call_worker, recorder
):
    bright, owner = go_live("Bright Smile Dental", N_BRIGHT, "Bright Smile, how can I help?")
    other, _ = go_live("Other Dental", N_OTHER, "Other Dental, hello.")
    wait_until(lambda: active(bright) and active(other), timeout=60)

    # The call: a room with the clinic's prefix, the platform agent dispatched with metadata.
    result = call_emulator.control.call(CALLER, N_BRIGHT)
    assert result["result"] == "dispatch", result
    assert result["room_name"].startswith(f"{bright.room_prefix}_main_{CALLER}_")  # the line
    (agent,) = result["agents"]
    assert agent["agent_name"] == "switchboard-receptionist"
    metadata = json.loads(agent["metadata"])
    config = Receptionist.objects.get(clinic=bright)
    assert metadata == {
        "clinic": str(bright.pk),
        "config_version": config.version,
        "line": "main",
        "receptionist": config.pk,
    }

    # What the agent does with that job: fetch the clinic's config with its service token.
    _, raw_token = agent_token_create(name="e2e-agent")
    agent_api = requests.Session()
    agent_api.headers["Authorization"] = f"Bearer {raw_token}"
    config_url = f"{live_server.url}/api/v1/agent/config"
    asked = {"clinic": metadata["clinic"], "receptionist": metadata["receptionist"]}
    r = agent_api.get(config_url, params=asked, timeout=10)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["clinic"] == str(bright.pk) and body["clinic_name"] == "Bright Smile Dental"
    assert body["greeting"] == "Bright Smile, how can I help?"
    assert body["config_version"] == metadata["config_version"]
    assert (body["receptionist"], body["receptionist_name"]) == (config.pk, "Main line")
    by_room = agent_api.get(config_url, params={"room": result["room_name"]}, timeout=10)
    assert by_room.json() == body
    again = agent_api.get(
        config_url,
        params=asked,
        headers={"If-None-Match": r.headers["ETag"]},
        timeout=10,
    )
    assert again.status_code == 304

    # The webhooks: four signed deliveries, one call log entry, for this clinic only.
    wait_until(lambda: len(recorder.deliveries) == 4, timeout=20)
    assert [status for _, _, status in recorder.deliveries] == [200] * 4
    (call,) = Call.objects.all()
    assert call.clinic == bright and call.status == Call.Status.COMPLETED
    assert call.room_name == redact_room_name(result["room_name"]) and call.caller_last4 == "9876"
    assert call.caller_number == CALLER  # the rule shows the number (decision 0031)
    assert (call.trunk_id, call.rule_id) == (result["trunk_id"], result["dispatch_rule_id"])
    assert call.call_id == result["call_id"] and not call.is_test
    assert not Call.objects.for_clinic(other).exists()

    # LiveKit redelivers: the same bytes and signatures again. Still one entry.
    before = Call.objects.values().get()
    for raw_body, auth, _ in list(recorder.deliveries):
        again = requests.post(
            f"{live_server.url}/webhooks/livekit",
            data=raw_body,
            headers={"Authorization": auth, "Content-Type": "application/webhook+json"},
            timeout=10,
        )
        assert again.status_code == 200, again.text
    after = Call.objects.values().get()
    before.pop("updated_at"), after.pop("updated_at")
    assert after == before
    assert Call.objects.count() == 1

    # A test call from the dashboard's API lands in the log too, marked as a test.
    api = requests.Session()
    api.headers["Authorization"] = f"Token {user_token(owner)}"
    r = api.post(
        f"{live_server.url}/api/v1/clinics/{bright.slug}/test-call/",
        json={"from": "+14155551234"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["passed"] and report["mode"] == "emulator", report
    wait_until(lambda: Call.objects.filter(is_test=True).exists(), timeout=20)
    test_call = Call.objects.get(is_test=True)
    assert test_call.clinic == bright
    assert test_call.room_name == redact_room_name(report["results"][0]["room_name"])
    assert Call.objects.for_clinic(bright).filter(is_test=False).count() == 1
    assert not Call.objects.for_clinic(other).exists()
