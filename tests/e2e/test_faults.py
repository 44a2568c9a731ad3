"""The fault matrix rows that run in `make test`: lost replies, a 503 window, a pool child
SIGKILLed mid-create, concurrent reconciles of one clinic. Real parts: PostgreSQL, Redis, a
`celery worker` subprocess, the emulator over HTTP; faults injected through the emulator's
control plane and by killing processes by PID. Figures come from ground truth (figures.py)
and are written to var/fault-results/ for docs/reliability.md.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.db.models import Count, F, Q

from telephony import services
from telephony.models import Provisioning, ProvisioningEvent
from telephony.provisioning.reconcile import reconcile_clinic
from telephony.tasks import reconcile_clinic_task
from tests.e2e.conftest import wait_until
from tests.e2e.figures import assess, record
from tests.factories import UserFactory, make_clinic

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MUTATING = ("Create", "Update", "Delete")


def go_live(n: int, tag: str, *, together: bool = False) -> list[str]:
    """n clinics go live one by one (each commits and publishes its own reconcile), or
    together in one transaction (published as reconcile_clinics batches)."""
    owner = UserFactory()
    clinics = []
    for i in range(n):
        clinic = make_clinic(owner, f"{tag} {i}")
        services.phone_number_add(clinic=clinic, number=f"+1415556{len(tag) % 10}{i:03d}")
        clinics.append(clinic)
    with transaction.atomic() if together else contextlib.nullcontext():
        for clinic in clinics:
            services.clinic_go_live(clinic=clinic, actor=owner)
    return [str(c.pk) for c in clinics]


def took_batch_path(worker) -> bool:
    return any("telephony.reconcile_clinics[" in line for line in worker.lines)


# One by one: the reconcile_clinic path; together: the batch path (provisioning/many.py).
PATHS = pytest.mark.parametrize("together", [False, True], ids=["one-by-one", "together"])


def settled(clinic_ids: list[str], timeout: float = 90) -> None:
    def done() -> bool:
        rows = Provisioning.objects.filter(clinic_id__in=clinic_ids)
        assert not rows.filter(state="failed").exists(), list(rows.values("state", "last_error"))
        return not rows.filter(
            Q(observed_generation__lt=F("generation")) | ~Q(state="active")
        ).exists()

    wait_until(done, timeout=timeout, interval=0.1)


def peak_overlap(requests: list[dict]) -> int:
    """The most mutating calls the emulator had in flight at once."""
    edges = []
    for r in requests:
        if r["method"].startswith(MUTATING):
            edges += [(r["started_at"], 1), (r["at"] or r["started_at"], -1)]
    peak = cur = 0
    for _, delta in sorted(edges, key=lambda e: (e[0], e[1])):
        cur += delta
        peak = max(peak, cur)
    return peak


@PATHS
def test_lost_replies_are_adopted_never_duplicated(livekit, worker, together):
    livekit.add_faults(
        [
            {"method": "CreateSIPInboundTrunk", "action": "commit_then_drop", "probability": 0.5},
            {"method": "CreateSIPDispatchRule", "action": "commit_then_drop", "probability": 0.5},
        ]
    )
    clinics = go_live(10, "Drop", together=together)
    settled(clinics)

    figures = assess(livekit, clinics)
    figures["dropped_replies"] = sum(1 for r in livekit.requests() if r["dropped"])
    record("lost_reply_batch" if together else "lost_reply", figures)
    assert took_batch_path(worker) == together
    assert figures["dropped_replies"] > 0
    assert (figures["dup"], figures["stuck"], figures["orphans"]) == (0, 0, 0)
    assert (figures["trunk_creates"], figures["rule_creates"]) == (10, 10)
    assert (
        ProvisioningEvent.objects.filter(action__startswith="adopt").count()
        == (figures["dropped_replies"])
    )


@PATHS
def test_a_503_window_during_a_burst_converges_without_duplicates(livekit, worker, together):
    livekit.add_faults(
        [
            {
                "method": "*",
                "action": "status",
                "status": 503,
                "duration_s": 3,
                "window_from": "first_match",
            }
        ]
    )
    clinics = go_live(30, "Outage", together=together)
    settled(clinics, timeout=120)

    figures = assess(livekit, clinics)
    errors = (
        ProvisioningEvent.objects.filter(outcome="error")
        .values("clinic")
        .annotate(n=Count("id"))
        .order_by("-n")
    )
    figures["max_errors_per_clinic"] = errors[0]["n"] if errors else 0
    figures["status_503"] = sum(1 for r in livekit.requests() if r["status"] == 503)
    record("outage_503_batch" if together else "outage_503", figures)
    assert took_batch_path(worker) == together
    assert figures["status_503"] > 0
    assert (figures["dup"], figures["stuck"], figures["orphans"], figures["failed"]) == (0, 0, 0, 0)
    assert figures["max_errors_per_clinic"] <= 8  # backoff, not a retry storm


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        kids += [int(k) for k in text]
    return kids


def test_a_pool_child_killed_mid_create_converges_once(livekit, worker):
    livekit.add_faults(
        [{"method": "CreateSIPInboundTrunk", "action": "latency", "latency_ms": 1500, "count": 1}]
    )
    (clinic,) = go_live(1, "Kill")

    in_flight = wait_until(
        lambda: [r for r in livekit.requests("CreateSIPInboundTrunk") if r["code"] is None]
    )
    assert in_flight
    children = _children(worker.pid)
    assert children, "the worker has no pool child"
    for child in children:
        os.kill(child, signal.SIGKILL)
    settled([clinic], timeout=90)

    figures = assess(livekit, [clinic])
    figures["killed_children"] = len(children)
    record("pool_child_kill", figures)
    assert (figures["dup"], figures["stuck"], figures["orphans"]) == (0, 0, 0)
    assert figures["trunk_creates"] == 1 and figures["rule_creates"] == 1


def test_concurrent_reconciles_of_one_clinic_make_one_mutating_call_at_a_time(livekit, worker):
    # LiveKit's check-then-store is not atomic: widen the window so a second create would
    # pass the conflict check if our lease let it through.
    livekit.add_faults([{"method": "*", "action": "toctou_delay", "latency_ms": 300}])
    (clinic,) = go_live(1, "Race")
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def run() -> None:
        try:
            barrier.wait()
            outcomes.append(reconcile_clinic(clinic).outcome)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for _ in range(8):  # duplicate deliveries through the broker at the same time
        reconcile_clinic_task.apply_async(args=[clinic])
    for t in threads:
        t.join()
    settled([clinic])

    figures = assess(livekit, [clinic])
    figures["peak_mutating_in_flight"] = peak_overlap(livekit.requests())
    figures["busy_runs"] = outcomes.count("busy")
    record("concurrent_reconciles", figures)
    assert figures["peak_mutating_in_flight"] == 1
    assert (figures["dup"], figures["trunk_creates"], figures["rule_creates"]) == (0, 1, 1)
    assert figures["busy_runs"] >= 1
