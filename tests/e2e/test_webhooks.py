"""Acceptance for webhooks to clinics, with real parts: a celery worker subprocess delivers
to a receiver subprocess (emulators/webhook_receiver) that verifies every request with the
`standardwebhooks` package and accepts each webhook-id once.

- A simulated call (the emulator, its signed LiveKit webhooks over HTTP, the agent's outcome
  over HTTP) gives call.started and call.ended, with the outcome, exactly once each.
- Fault rows, each with nothing lost and nothing accepted twice: the receiver down then up,
  500 then 200, hanging past the timeout, the worker SIGKILLed mid-delivery. Figures
  (delivered, duplicates by webhook-id, max delay) go to var/fault-results/ and
  docs/reliability.md. The Redis restart row is in test_faults_slow.py (`make faults`).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests
from django.db.models import Count, Q

from config.celery import app as celery_app
from emulators.livekit.testing import EmulatorProcess
from emulators.webhook_receiver.testing import ReceiverProcess
from telephony import services
from telephony.agent_tokens import agent_token_create
from telephony.models import Call, Provisioning
from tests.api_helpers import user_token
from tests.e2e.conftest import (
    EMULATOR_KEY,
    EMULATOR_SECRET,
    Worker,
    point_at,
    wait_until,
    worker_env,
)
from tests.e2e.figures import record
from tests.factories import UserFactory, make_clinic
from webhooks import services as webhooks
from webhooks.models import WebhookAttempt, WebhookDelivery
from webhooks.sweeper import sweep

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CALLER = "+14155559876"
NUMBER = "+14155550161"
# Short enough for a test, long enough that a receiver down for a few seconds is waited for.
SCHEDULE = "0,0.5,1,1,2,2,3,3,4,4,5,5"
WEBHOOK_ENV = {
    "WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS": "true",
    "WEBHOOKS_RETRY_SCHEDULE": SCHEDULE,
    "WEBHOOKS_TIMEOUT_SECONDS": "1",
    "WEBHOOKS_ENDPOINT_CONCURRENCY": "2",
}


@pytest.fixture(autouse=True)
def webhook_settings(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS = True
    settings.WEBHOOKS_RETRY_SCHEDULE = [float(x) for x in SCHEDULE.split(",")]
    settings.WEBHOOKS_TIMEOUT_SECONDS = 1


@contextmanager
def hook_worker(emulator_url: str, queue_name: str | None = None) -> Iterator[Worker]:
    """A worker (prefork, 2 processes) with the webhook settings, on a queue of its own."""
    import uuid

    queue_name = queue_name or f"e2e-hooks-{uuid.uuid4().hex[:8]}"
    previous = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = queue_name
    env = worker_env(emulator_url, queue_name)
    env.update(WEBHOOK_ENV)
    w = Worker(env, queue_name)
    try:
        yield w
    finally:
        w.stop()
        celery_app.conf.task_default_queue = previous


@pytest.fixture
def receiver(tmp_path) -> Iterator[ReceiverProcess]:
    with ReceiverProcess(state=tmp_path / "receiver.json") as r:
        yield r


def endpoint_for(clinic, receiver: ReceiverProcess, events: list[str]):
    endpoint, secret = webhooks.endpoint_create(
        clinic=clinic, url=f"{receiver.url}/hooks", chosen=events
    )
    receiver.set_secrets(secret)
    return endpoint


def accepted(receiver: ReceiverProcess, kind: str | None = None) -> list[dict[str, Any]]:
    return [a for a in receiver.log()["accepted"] if kind is None or a["type"] == kind]


def figures_of(receiver: ReceiverProcess, expected: int) -> dict[str, Any]:
    log = receiver.log()
    delays = [a["delay_s"] for a in log["accepted"]]
    return {
        "events": expected,
        "delivered": len(log["accepted"]),
        "lost": expected - len(log["accepted"]),
        "duplicates_by_webhook_id": len(log["duplicates"]),
        "accepted_twice": len(log["accepted"]) - len({a["id"] for a in log["accepted"]}),
        "rejected_signatures": len(log["rejected"]),
        "max_delay_s": max(delays) if delays else None,
        "attempts": WebhookAttempt.objects.count(),
    }


def failed_attempts_each(expected: int) -> int:
    """The fewest failed attempts logged for any delivery (0 until all `expected` exist)."""
    counts = list(
        WebhookDelivery.objects.annotate(
            failed=Count("attempt_log", filter=Q(attempt_log__status_code__isnull=True))
        ).values_list("failed", flat=True)
    )
    return min(counts) if len(counts) == expected else 0


def add_numbers(clinic, n: int, start: int = 100) -> None:
    """n events (number.added), each written with its change and published on commit."""
    for i in range(n):
        services.phone_number_add(clinic=clinic, number=f"+1415555{start + i:04d}")


def swept_until(predicate, timeout: float = 60.0):
    """Poll, running the webhook sweeper each time (as beat would every few seconds)."""

    def probe():
        sweep()
        return predicate()

    return wait_until(probe, timeout=timeout, interval=0.5)


# --- the call, end to end ---------------------------------------------------------------------


@pytest.fixture
def call_emulator(live_server, settings) -> Iterator[EmulatorProcess]:
    """An emulator whose LiveKit webhooks go to live_server."""
    with EmulatorProcess(
        api_key=EMULATOR_KEY,
        api_secret=EMULATOR_SECRET,
        webhook_url=f"{live_server.url}/webhooks/livekit",
    ) as emu:
        point_at(settings, emu)
        yield emu


def test_a_call_reaches_the_clinics_receiver_once_with_its_outcome(
    live_server, call_emulator, receiver
):
    with hook_worker(call_emulator.url):
        owner = UserFactory()
        clinic = make_clinic(owner, "Bright Smile Dental")
        services.phone_number_add(clinic=clinic, number=NUMBER)
        services.clinic_go_live(clinic=clinic, actor=owner)
        wait_until(
            lambda: Provisioning.objects.filter(clinic=clinic, state="active").exists(),
            timeout=60,
        )
        # The clinic's developer adds the endpoint over the API; the secret comes back once.
        api = requests.Session()
        api.headers["Authorization"] = f"Token {user_token(owner)}"
        r = api.post(
            f"{live_server.url}/api/v1/clinics/{clinic.slug}/webhook-endpoints/",
            json={"url": f"{receiver.url}/hooks", "events": ["call.started", "call.ended"]},
            timeout=10,
        )
        assert r.status_code == 201, r.text
        receiver.set_secrets(r.json()["secret"])

        result = call_emulator.control.call(CALLER, NUMBER)
        assert result["result"] == "dispatch", result
        wait_until(lambda: accepted(receiver, "call.started"), timeout=30)
        wait_until(lambda: Call.objects.filter(clinic=clinic, ended_at__isnull=False).exists())
        assert accepted(receiver, "call.ended") == []  # waits for the agent's outcome

        # The agent reports the outcome, and retries (as after a timed-out first post).
        outcome = {
            "consent": "granted",
            "outcome": "appointment_request",
            "summary": "Wants a cleaning next week.",
            "transcript": "Caller: I'd like a cleaning next week.",
        }
        _, token = agent_token_create(name="e2e-agent")
        url = f"{live_server.url}/api/v1/agent/calls/{result['room_name']}/outcome"
        for expected in (201, 200):
            r = requests.post(
                url, json=outcome, headers={"Authorization": f"Bearer {token}"}, timeout=10
            )
            assert r.status_code == expected, r.text
        wait_until(lambda: accepted(receiver, "call.ended"), timeout=30)
        swept_until(lambda: not WebhookDelivery.objects.filter(status="pending").exists())

    log = receiver.log()
    assert sorted(a["type"] for a in log["accepted"]) == ["call.ended", "call.started"]
    assert log["duplicates"] == [] and log["rejected"] == []
    (ended,) = accepted(receiver, "call.ended")
    assert ended["data"]["outcome"] == {**outcome, "consent_at": None}
    call = ended["data"]["call"]
    assert call["caller"] == CALLER and call["called_number"] == NUMBER
    assert call["id"] == Call.objects.get(clinic=clinic).room_sid
    assert ended["data"]["clinic"]["slug"] == clinic.slug
    record("webhooks_call", figures_of(receiver, 2))


# --- fault rows -------------------------------------------------------------------------------


@pytest.fixture
def draft_clinic(transactional_db):
    return make_clinic(UserFactory(), "Hooked Dental")


def test_receiver_down_then_up_loses_nothing(draft_clinic, receiver, tmp_path):
    endpoint_for(draft_clinic, receiver, ["number.added"])
    port = receiver.port
    receiver.stop()  # down
    with hook_worker("http://127.0.0.1:1"):
        add_numbers(draft_clinic, 20)
        # Every delivery fails at least twice while the receiver is down. Counted from the
        # attempt log, written after each request ends (`attempts` rises at claim time,
        # before the request, so it runs ahead of the log).
        wait_until(lambda: failed_attempts_each(20) >= 2, timeout=60)
        failures = WebhookAttempt.objects.filter(status_code__isnull=True).count()
        with ReceiverProcess(port=port, state=tmp_path / "receiver.json") as back:
            swept_until(lambda: len(accepted(back)) == 20)
            swept_until(lambda: not WebhookDelivery.objects.filter(status="pending").exists())
            figures = figures_of(back, 20)
    figures["failed_attempts_while_down"] = failures
    record("webhooks_receiver_down", figures)
    assert (figures["lost"], figures["accepted_twice"]) == (0, 0)
    assert failures >= 40


def test_500_then_200_loses_nothing(draft_clinic, receiver):
    endpoint_for(draft_clinic, receiver, ["number.added"])
    receiver.faults(status=500, count=10)
    with hook_worker("http://127.0.0.1:1"):
        add_numbers(draft_clinic, 20)
        swept_until(lambda: len(accepted(receiver)) == 20)
        swept_until(lambda: not WebhookDelivery.objects.filter(status="pending").exists())
    figures = figures_of(receiver, 20)
    figures["answers_500"] = WebhookAttempt.objects.filter(status_code=500).count()
    record("webhooks_500_then_200", figures)
    assert (figures["lost"], figures["accepted_twice"]) == (0, 0)
    assert figures["answers_500"] == 10
    assert WebhookDelivery.objects.filter(status="succeeded").count() == 20


def test_a_receiver_hanging_past_the_timeout_loses_nothing(draft_clinic, receiver):
    endpoint_for(draft_clinic, receiver, ["number.added"])
    receiver.faults(hang_s=3, count=2)  # accepted after 3 s; the platform gave up after 1 s
    with hook_worker("http://127.0.0.1:1"):
        add_numbers(draft_clinic, 6)
        swept_until(lambda: len(accepted(receiver)) == 6)
        swept_until(lambda: not WebhookDelivery.objects.filter(status="pending").exists())
    figures = figures_of(receiver, 6)
    figures["timeouts"] = WebhookAttempt.objects.filter(error__startswith="No answer").count()
    record("webhooks_receiver_hangs", figures)
    assert (figures["lost"], figures["accepted_twice"]) == (0, 0)
    assert figures["timeouts"] == 2
    # The two that hung were accepted late and sent again: duplicates, by webhook-id only.
    assert figures["duplicates_by_webhook_id"] <= 2


def test_the_worker_killed_mid_delivery_loses_nothing(draft_clinic, receiver):
    endpoint_for(draft_clinic, receiver, ["number.added"])
    receiver.faults(hang_s=2, count=1)
    first = hook_worker("http://127.0.0.1:1")
    w = first.__enter__()
    try:
        add_numbers(draft_clinic, 5)
        # A delivery is in flight (the receiver holds it): SIGKILL the whole worker.
        wait_until(lambda: receiver.log()["requests"] >= 1, timeout=30)
        os.killpg(w.pid, signal.SIGKILL)
        w.proc.wait()
    finally:
        first.__exit__(None, None, None)
    in_flight = WebhookDelivery.objects.filter(lease_until__isnull=False).count()
    with hook_worker("http://127.0.0.1:1"):
        # Its lease expires (3 x timeout + 10 s); the sweeper publishes it again.
        swept_until(lambda: len(accepted(receiver)) == 5, timeout=90)
        swept_until(lambda: not WebhookDelivery.objects.filter(status="pending").exists())
    figures = figures_of(receiver, 5)
    figures["leased_when_killed"] = in_flight
    record("webhooks_worker_killed", figures)
    assert (figures["lost"], figures["accepted_twice"]) == (0, 0)
    assert in_flight >= 1
