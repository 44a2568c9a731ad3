"""The slower fault-matrix rows (`make faults`): Retry-After windows, LiveKit rejecting our
credentials, creates that commit and then hang or fail, conflicting trunks, the whole worker
SIGKILLed, Redis restarted without persistence, PostgreSQL restarted mid-burst, and a clinic
offboarded while its create is in flight. Real processes throughout; figures from ground
truth, written to var/fault-results/.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid

import pytest
import redis
from django.db import connection

from config.celery import app as celery_app
from telephony import services
from telephony.livekit_gateway import LiveKitGateway, TrunkSpec
from telephony.models import PhoneNumber, Provisioning
from telephony.provisioning.desired import marker
from telephony.tasks import sweep_provisioning
from tenants.models import Clinic
from tests.e2e.conftest import EMULATOR_KEY, EMULATOR_SECRET, Worker, wait_until, worker_env
from tests.e2e.figures import assess, record
from tests.e2e.test_faults import go_live, settled

pytestmark = [pytest.mark.e2e, pytest.mark.faults, pytest.mark.django_db(transaction=True)]


def test_429_retry_after_is_never_undercut(livekit, worker):
    livekit.add_faults(
        [
            {
                "method": "*",
                "action": "status",
                "status": 429,
                "code": "resource_exhausted",
                "retry_after": 3,
                "duration_s": 2,
                "window_from": "first_match",
            }
        ]
    )
    clinics = go_live(10, "Throttle")
    settled(clinics, timeout=120)

    log = livekit.requests()
    throttled = [r for r in log if r["status"] == 429]
    first_429 = min(r["at"] for r in throttled)
    # After a 429 with Retry-After: 3, no process may start a call before 3 s have passed.
    # A call whose token was already taken when the 429 left the emulator (it reaches the
    # emulator within a few milliseconds) cannot be recalled: the window starts 250 ms later.
    early = [r for r in log if first_429 + 0.25 < r["started_at"] < first_429 + 3 - 0.05]
    figures = assess(livekit, clinics)
    figures.update(throttled=len(throttled), calls_before_retry_after=len(early))
    record("throttle_429", figures)
    assert throttled and not early
    assert (figures["dup"], figures["stuck"], figures["orphans"]) == (0, 0, 0)


def test_401_stops_calls_for_everyone_until_the_configuration_changes(livekit, emulator, settings):
    queue = f"e2e-{uuid.uuid4().hex[:8]}"
    celery_app.conf.task_default_queue = queue
    bad = worker_env(emulator.url, queue)
    bad["LIVEKIT_API_SECRET"] = "a-wrong-secret-0123456789abcdef0123456789"
    w = Worker(bad, queue)
    try:
        clinics = go_live(10, "Auth")
        wait_until(
            lambda: Provisioning.objects.filter(clinic_id__in=clinics, state="failed").count() == 10
        )
        calls = len(livekit.requests())
    finally:
        w.stop()
    figures = {"clinics": 10, "upstream_calls_with_bad_key": calls}
    # The operator fixes the secret: a worker with the right configuration resumes all.
    good = Worker(worker_env(emulator.url, queue), queue)
    try:
        settings.LIVEKIT_API_SECRET = EMULATOR_SECRET
        sweep_provisioning.apply()
        settled(clinics)
    finally:
        good.stop()
    figures.update(assess(livekit, clinics))
    record("auth_401", figures)
    assert calls <= 2  # the first rejection opens the circuit for everyone
    assert (figures["dup"], figures["stuck"]) == (0, 0)


@pytest.mark.parametrize(
    "fault",
    [
        {"action": "commit_then_hang"},
        {"action": "commit_then_status", "status": 500},
        {"action": "commit_then_status", "status": 503},
        {"action": "commit_then_status", "status": 408, "code": "deadline_exceeded"},
    ],
    ids=["hang", "500", "503", "408"],
)
def test_committed_then_failed_creates_are_adopted(livekit, worker, fault):
    livekit.add_faults(
        [
            {"method": "CreateSIPInboundTrunk", "count": 3, **fault},
            {"method": "CreateSIPDispatchRule", "count": 3, **fault},
        ]
    )
    clinics = go_live(5, "Commit")
    settled(clinics, timeout=120)
    figures = assess(livekit, clinics)
    record(f"{fault['action']}_{fault.get('status', '')}".rstrip("_"), figures)
    assert (figures["dup"], figures["stuck"], figures["orphans"]) == (0, 0, 0)
    assert (figures["trunk_creates"], figures["rule_creates"]) == (5, 5)


def test_conflicting_trunks_ours_are_adopted_foreign_fail_untouched(livekit, worker, emulator):
    owner_clinic_ids = go_live(0, "x")  # nothing; build two draft clinics by hand below
    assert owner_clinic_ids == []
    from tests.factories import UserFactory, make_clinic

    owner = UserFactory()
    ours, theirs = make_clinic(owner, "Ours"), make_clinic(owner, "Theirs")
    services.phone_number_add(clinic=ours, number="+14155557001")
    services.phone_number_add(clinic=theirs, number="+14155557002")
    gw = LiveKitGateway(emulator.url, EMULATOR_KEY, EMULATOR_SECRET, timeout=3)
    # A trunk of ours for this clinic whose create was never recorded (e.g. a DB restore)...
    gw.create_inbound_trunk(
        TrunkSpec(name="switchboard ours", metadata=marker(ours), numbers=("+14155557001",))
    )
    # ...and a foreign trunk on the other clinic's number.
    foreign = gw.create_inbound_trunk(
        TrunkSpec(name="other tenant", metadata='{"owner":"else"}', numbers=("+14155557002",))
    )
    for clinic in (ours, theirs):
        services.clinic_go_live(clinic=clinic, actor=owner)

    settled([str(ours.pk)])
    wait_until(lambda: Provisioning.objects.get(clinic=theirs).state == "failed")
    p = Provisioning.objects.get(clinic=theirs)
    state = livekit.state()
    foreign_now = [t for t in state["inbound_trunks"] if t["sip_trunk_id"] == foreign.trunk_id]
    figures = {
        "adopted": Provisioning.objects.get(clinic=ours).trunk_id != "",
        "foreign_untouched": foreign_now[0]["name"] == "other tenant",
        "foreign_error": p.last_error,
    }
    record("conflicting_trunks", figures)
    assert len([t for t in state["inbound_trunks"] if "ours" in t["name"]]) == 1
    assert figures["foreign_untouched"] and "does not manage" in p.last_error
    assert foreign_now[0]["numbers"] == ["+14155557002"]
    assert foreign_now[0]["metadata"] == '{"owner":"else"}'
    assert not [r for r in livekit.requests() if r["method"] == "DeleteSIPTrunk"]


def test_whole_worker_sigkilled_converges_via_the_sweeper(livekit, emulator):
    queue = f"e2e-{uuid.uuid4().hex[:8]}"
    celery_app.conf.task_default_queue = queue
    env = worker_env(emulator.url, queue)
    env["CELERY_BROKER_VISIBILITY_TIMEOUT"] = "3600"  # redelivery would take an hour
    livekit.add_faults([{"method": "*", "action": "latency", "latency_ms": 800}])
    first = Worker(env, queue)
    clinics = go_live(8, "Sigkill")
    wait_until(lambda: livekit.requests())
    os.killpg(first.proc.pid, signal.SIGKILL)  # MainProcess and children, tasks reserved
    first.proc.wait()
    killed_at = time.monotonic()
    livekit.clear_faults()
    second = Worker(env, queue)
    try:
        # The beat sweeper's job, run on its schedule: re-enqueue what lags its generation.
        def sweep_until_done() -> bool:
            sweep_provisioning.apply()
            rows = Provisioning.objects.filter(clinic_id__in=clinics)
            return rows.filter(state="active").count() == len(clinics)

        wait_until(sweep_until_done, timeout=90, interval=2)
    finally:
        second.stop()
    figures = assess(livekit, clinics)
    figures["converged_after_kill_s"] = round(time.monotonic() - killed_at, 1)
    record("worker_sigkill", figures)
    assert (figures["dup"], figures["stuck"], figures["orphans"]) == (0, 0, 0)
    assert figures["converged_after_kill_s"] < 60  # bounded by lease + sweeps, not the VT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_redis(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind",
         "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    client = redis.Redis(port=port)
    wait_until(lambda: _ping(client), timeout=10)
    return proc


def _ping(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def _use_broker(url: str) -> None:
    """Point this process's publisher at another broker (the namespaced broker_url setting
    is read once; the write/read URLs take precedence when set)."""
    celery_app.conf.update(broker_write_url=url, broker_read_url=url)
    celery_app.close()
    celery_app.amqp._producer_pool = None


def test_redis_restarted_without_persistence_loses_nothing(livekit, emulator, settings):
    port = _free_port()
    url = f"redis://127.0.0.1:{port}/0"
    redis_proc = _start_redis(port)
    queue = f"e2e-{uuid.uuid4().hex[:8]}"
    celery_app.conf.task_default_queue = queue
    previous = celery_app.conf.broker_write_url
    _use_broker(url)
    env = worker_env(emulator.url, queue)
    env["CELERY_BROKER_URL"] = url
    w = Worker(env, queue)
    try:
        redis_proc.kill()  # SIGKILL, no persistence: every queued message is gone
        redis_proc.wait()
        started = time.monotonic()
        clinics = go_live(10, "Redis")  # saved while Redis is down
        save_seconds = time.monotonic() - started
        states = list(
            Provisioning.objects.filter(clinic_id__in=clinics).values_list("state", flat=True)
        )
        assert states == ["pending"] * 10, states
        redis_proc = _start_redis(port)

        def sweep_until_done() -> bool:
            try:
                sweep_provisioning.apply().get()
            except Exception:  # the broker may still be coming back
                return False
            return Provisioning.objects.filter(clinic_id__in=clinics, state="active").count() == 10

        wait_until(sweep_until_done, timeout=90, interval=2)
    finally:
        w.stop()
        redis_proc.kill()
        _use_broker(previous)
    figures = assess(livekit, clinics)
    figures["seconds_to_save_10_changes_with_redis_down"] = round(save_seconds, 2)
    record("redis_restart", figures)
    assert (figures["dup"], figures["stuck"], figures["orphans"]) == (0, 0, 0)


def _check_cluster_is_the_test_database(cluster: str) -> None:
    """Restarting another cluster would test nothing, and could break other people's work."""
    listed = subprocess.run(
        ["pg_lsclusters", "--no-header", *cluster.split()],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    port = int(listed[2]) if len(listed) > 2 else None
    wanted = int(connection.settings_dict.get("PORT") or 5432)
    if port != wanted:
        pytest.fail(
            f"FAULTS_PG_CLUSTER={cluster!r} listens on port {port}, but the tests' database is "
            f"on port {wanted}; point TEST_DATABASE_URL at that cluster (make faults "
            "FAULTS_PG_CLUSTER=... TEST_DATABASE_URL=...)"
        )


def test_postgres_restarted_mid_burst(livekit, worker):
    cluster = os.environ.get("FAULTS_PG_CLUSTER")
    if not cluster:
        pytest.fail(
            "set FAULTS_PG_CLUSTER (e.g. '15 main') to run the PostgreSQL restart row; "
            "make faults sets it from /etc/postgresql"
        )
    _check_cluster_is_the_test_database(cluster)
    livekit.add_faults([{"method": "*", "action": "latency", "latency_ms": 200}])
    clinics = go_live(20, "Postgres")
    wait_until(lambda: len(livekit.requests()) >= 5)
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", *cluster.split(), "restart", "-m", "fast"],
        check=True,
    )
    connection.close()
    livekit.clear_faults()

    def done() -> bool:
        try:
            sweep_provisioning.apply()
            n = Provisioning.objects.filter(clinic_id__in=clinics, state="active").count()
        except Exception:
            connection.close()
            return False
        return n == len(clinics)

    wait_until(done, timeout=120, interval=2)
    figures = assess(livekit, clinics)
    record("postgres_restart", figures)
    assert (figures["dup"], figures["stuck"], figures["orphans"], figures["failed"]) == (0, 0, 0, 0)


def test_offboarded_while_create_in_flight_leaves_nothing(livekit, worker):
    livekit.add_faults(
        [{"method": "CreateSIPInboundTrunk", "action": "latency", "latency_ms": 1500}]
    )
    (clinic_id,) = go_live(1, "Leaving")
    wait_until(lambda: [r for r in livekit.requests("CreateSIPInboundTrunk") if r["code"] is None])
    clinic = Clinic.objects.get(pk=clinic_id)
    services.clinic_offboard(clinic=clinic, actor=None)

    wait_until(lambda: Provisioning.objects.get(clinic=clinic).state == "deprovisioned", timeout=60)
    state = livekit.state()
    figures = assess(livekit, [clinic_id])
    figures["left_upstream"] = len(state["inbound_trunks"]) + len(state["dispatch_rules"])
    record("offboard_in_flight", figures)
    assert figures["left_upstream"] == 0 and figures["orphans"] == 0
    assert not PhoneNumber.objects.filter(clinic=clinic).exists()
