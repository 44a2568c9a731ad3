"""Acceptance (issue 17), in bulk: clinics of three LiveKit projects go live in one
transaction and a real celery worker brings them up through the batched path (decision 0136).

Three emulator processes are three projects: a (the default, the LIVEKIT_* settings), b and c
(registered, keys of their own). Project b's emulator enforces a rate limit of its own (60 a
minute, burst 4: 429 beyond it) far below what the platform's limiter allows here, as when a
LiveKit project's quota is lower than configured: b's clinics are refused, wait for its
Retry-After and converge; a's and c's get no 429 and converge in their own batches. Each
project ends up holding exactly its clinics' objects.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction

from emulators.livekit.testing import EmulatorProcess
from telephony import services
from telephony.livekit_gateway import LiveKitTransientError
from telephony.models import LiveKitProject, Provisioning
from telephony.provisioning.drift import scan_all
from telephony.ratelimit import reset_limiter
from telephony.upstream import gateway_for
from tenants.models import Clinic
from tests.e2e.conftest import ThreeProjects, Worker, wait_until
from tests.e2e.conftest import worker_on_own_queue as own_queue
from tests.factories import UserFactory, make_clinic

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

NAMES = {"a": "default", "b": "bulk-b", "c": "bulk-c"}
B_LIMIT = ["--rate-limit-per-minute", "60", "--rate-limit-burst", "4"]


@pytest.fixture(scope="module")
def three_projects() -> ThreeProjects:
    # PROVISIONING_BATCH_SIZE: this process publishes the batches.
    return ThreeProjects(
        tag="bulk",
        names=NAMES,
        sip_domain="bulk.example",
        emulator_args={"b": B_LIMIT},
        settings={"PROVISIONING_BATCH_SIZE": 3},
    )


@pytest.fixture
def worker(
    projects: dict[str, LiveKitProject], emulators: dict[str, EmulatorProcess]
) -> Iterator[Worker]:
    # The platform's limiter far above b's real limit: only b's own 429s pace b. A 429
    # spends no attempt (decision 0160) but counts towards the rate-limited runs (30); the
    # backoff's jitter, here up to 8 s as in production's first attempts (2 s doubling to
    # 300 s), spreads the retries so they do not all come back to b's bucket at once.
    limits = {
        "LIVEKIT_RATE_LIMIT_PER_MINUTE": "100000",
        "LIVEKIT_RATE_LIMIT_BURST": "1000",
        "PROVISIONING_BATCH_SIZE": "3",
        "PROVISIONING_BACKOFF_BASE_SECONDS": "1",
        "PROVISIONING_BACKOFF_MAX_SECONDS": "8",
    }
    with own_queue(emulators["a"].url, "e2e-bulk", extra_env=limits) as w:
        yield w


def settled(clinics: list[Clinic]) -> bool:
    rows = list(Provisioning.objects.filter(clinic__in=clinics))
    for prov in rows:
        assert prov.state != Provisioning.State.FAILED, prov.last_error
    return len(rows) == len(clinics) and all(
        p.state == Provisioning.State.ACTIVE and p.converged for p in rows
    )


def ours(items: list[dict[str, Any]]) -> list[str]:
    found = (json.loads(i.get("metadata") or "{}").get("clinic") for i in items)
    return sorted(c for c in found if c)


def scanned_everywhere() -> dict[str, Any] | None:
    reports = scan_all()
    return reports if all("drift_count" in reports[n] for n in NAMES.values()) else None


def refused(project: LiveKitProject) -> bool:
    """One call to the project at once (the limiter's default pace): True once it is a 429."""
    try:
        gateway_for(project).list_inbound_trunks()
    except LiveKitTransientError as exc:
        return exc.status == 429
    return False


def statuses(emulator: EmulatorProcess) -> list[int | None]:
    return [r.get("status") for r in emulator.control.requests()]


def test_a_bulk_go_live_over_three_projects_with_b_rate_limiting(
    emulators, projects, worker, settings
):
    owner = UserFactory()
    clinics: dict[str, list[Clinic]] = {}
    for key, prefix in (("a", "+1415555"), ("b", "+4930555"), ("c", "+1312555")):
        clinics[key] = []
        for i in range(3):
            clinic = make_clinic(owner, f"Bulk {key.upper()} {i}")
            clinic.livekit_project = projects[key]
            clinic.save()
            services.phone_number_add(clinic=clinic, number=f"{prefix}{i:04d}")
            clinics[key].append(clinic)
    with transaction.atomic():  # one transaction: published as batches, one project each
        for key in "abc":
            for clinic in clinics[key]:
                services.clinic_go_live(clinic=clinic, actor=owner)

    wait_until(lambda: settled(clinics["a"] + clinics["c"]), timeout=60)
    wait_until(lambda: settled(clinics["b"]), timeout=180)

    assert 429 in statuses(emulators["b"])  # b did refuse: its clinics waited, then converged
    for key in "ac":
        assert set(statuses(emulators[key])) == {200}  # never a 429, never a retry
        assert len(statuses(emulators[key])) == 6  # 2 calls a clinic: batched, none repeated
    for key, name in NAMES.items():
        state = emulators[key].control.state()
        wanted = sorted(str(c.pk) for c in clinics[key])
        assert ours(state["inbound_trunks"]) == wanted, name
        assert ours(state["dispatch_rules"]) == wanted, name
    # The drift scan lists b too (its trunks, then its rules), through the platform's limiter
    # set below b's real limit as an operator would (b's own rate, decision 0162; a burst of
    # one): one call every 2 s, when b's bucket gains a token a second. b's bucket is emptied
    # first, the worst the worker can leave it in: only the scan's first call to b can then
    # be refused, and its 429 blocks b's limiter for Retry-After, after which b has a token
    # for every call. How often this polls cannot drain b's bucket again: the limiter paces
    # the calls, not the poll.
    wait_until(lambda: refused(projects["b"]), timeout=30)
    drained = len(statuses(emulators["b"]))
    LiveKitProject.objects.filter(pk=projects["b"].pk).update(rate_limit_per_minute=30)
    settings.LIVEKIT_RATE_LIMIT_BURST = 1
    settings.LIVEKIT_RATE_LIMIT_MAX_WAIT_SECONDS = 10
    reset_limiter()
    reports = wait_until(scanned_everywhere, timeout=60, interval=0.5)
    for name in NAMES.values():
        assert reports[name]["drift_count"] == 0 and reports[name]["orphans"] == 0, reports
    assert statuses(emulators["b"])[drained:].count(429) <= 1
