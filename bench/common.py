"""What every platform benchmark shares: its own database and Redis DB, real processes
(emulator, `celery worker`, gunicorn), bulk seeding, RSS sampling, results and plots.

Isolation, so benchmarks never disturb anyone's test runs on the same machine:
- PostgreSQL database `bench` (BENCH_DATABASE_URL; by default DATABASE_URL's server with
  the database name `bench`), created and migrated on first use, flushed between phases;
- Redis DB 9 (BENCH_REDIS_URL), a queue named per run, and a deployment id of its own;
- everything on loopback, every loop bounded in count and time.

Processes run production-shaped settings (DEBUG=false, secrets from this module), because
DEBUG=true makes Django keep every query in memory and that is not what operators run.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
VAR = ROOT / "var" / "bench"
LIVEKIT_KEY = "devkey"
LIVEKIT_SECRET = "bench-livekit-secret-0123456789-abcdef0123"
DEPLOYMENT_ID = "switchboard-bench"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


def bench_database_url() -> str:
    explicit = os.environ.get("BENCH_DATABASE_URL")
    if explicit:
        return explicit
    base = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/test"
    if not base.startswith("postgres"):
        base = "postgres://postgres@127.0.0.1:5432/test"
    return _with_path(base, "/bench")


def bench_redis_url() -> str:
    explicit = os.environ.get("BENCH_REDIS_URL")
    if explicit:
        return explicit
    base = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    return _with_path(base, "/9")


QUEUE = f"bench-{uuid.uuid4().hex[:8]}"


def platform_env(livekit_url: str = "http://127.0.0.1:1", **extra: str) -> dict[str, str]:
    """The environment of every platform process in a benchmark (and of this one)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LIVEKIT_", "CELERY_", "PROVISIONING_", "DJANGO_"))
    }
    env.update(
        DEBUG="false",
        SECRET_KEY="bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        FIELD_ENCRYPTION_KEYS="YmVuY2gtb25seS1maWVsZC1rZXktMDEyMzQ1Njc4OWE=",
        DATABASE_URL=bench_database_url(),
        REDIS_URL=bench_redis_url(),
        CELERY_BROKER_URL=bench_redis_url(),
        CELERY_TASK_DEFAULT_QUEUE=QUEUE,
        LIVEKIT_URL=livekit_url,
        LIVEKIT_API_KEY=LIVEKIT_KEY,
        LIVEKIT_API_SECRET=LIVEKIT_SECRET,
        SWITCHBOARD_DEPLOYMENT_ID=DEPLOYMENT_ID,
        REQUIRE_EMAIL_VERIFICATION="false",
        SECURE_SSL_REDIRECT="false",
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
        SECURE_HSTS_SECONDS="0",
        ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
        PYTHONDONTWRITEBYTECODE="1",
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    env.update(extra)
    return env


def setup_django(livekit_url: str = "http://127.0.0.1:1", **extra: str) -> None:
    """Point this process at the bench database and Redis DB, then django.setup()."""
    for key in [k for k in os.environ if k.startswith(("LIVEKIT_", "CELERY_", "PROVISIONING_"))]:
        del os.environ[key]
    os.environ.update(platform_env(livekit_url, **extra))
    _ensure_database()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    if not (ROOT / "staticfiles" / "staticfiles.json").exists():
        call_command("collectstatic", interactive=False, verbosity=0)


def _ensure_database() -> None:
    import psycopg

    url = urlsplit(bench_database_url())
    name = url.path.lstrip("/")
    admin = _with_path(bench_database_url(), "/postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def flush() -> None:
    """Empty every table of the bench database (never any other database)."""
    from django.db import connection

    assert connection.settings_dict["NAME"] == urlsplit(bench_database_url()).path.lstrip("/")
    tables = [t for t in connection.introspection.table_names() if t != "django_migrations"]
    with connection.cursor() as cur:
        cur.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")
    # Content types went too: forget the cached ids, or the next audit entry points at none.
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.clear_cache()


def redis_client() -> Any:
    import redis

    return redis.Redis.from_url(bench_redis_url())


def purge_queue() -> None:
    r = redis_client()
    r.delete(QUEUE)
    for key in r.scan_iter(f"{DEPLOYMENT_ID}:*"):
        r.delete(key)


# --- seeding ---------------------------------------------------------------------------------


def seed_clinics(n: int, *, state: str = "draft", tokens: bool = False) -> list[dict[str, Any]]:
    """n clinics with an owner, one number, carrier and agent settings, via bulk_create.

    Room prefixes have one fixed width, so none is a prefix of another (LiveKit joins the
    prefix and the caller with `_`).
    """
    from django.utils import timezone

    from telephony.models import PhoneNumber, Provisioning, Receptionist, TrunkSettings
    from tenants.models import Clinic, Membership, User

    now = timezone.now()
    run = uuid.uuid4().hex[:4]
    users = User.objects.bulk_create(
        [
            User(email=f"owner{i}-{run}@bench.example", email_verified_at=now, password="!")
            for i in range(n)
        ],
        batch_size=2000,
    )
    clinics = Clinic.objects.bulk_create(
        [
            Clinic(
                name=f"Bench Clinic {i:06d}",
                slug=f"bench-{run}-{i:06d}",
                room_prefix=f"b{run}{i:06d}",
                state=state,
            )
            for i in range(n)
        ],
        batch_size=2000,
    )
    Membership.objects.bulk_create(
        [Membership(clinic=c, user=u, role="owner") for c, u in zip(clinics, users, strict=True)],
        batch_size=2000,
    )
    base = int(run, 16) * 100_000
    TrunkSettings.objects.bulk_create([TrunkSettings(clinic=c) for c in clinics], batch_size=2000)
    receptionists = Receptionist.objects.bulk_create(
        [
            Receptionist(
                clinic=c,
                name="Main line",
                slug="main",
                greeting=f"Thank you for calling {c.name}.",
                instructions="Be kind.",
            )
            for c in clinics
        ],
        batch_size=2000,
    )
    PhoneNumber.objects.bulk_create(
        [
            PhoneNumber(clinic=c, receptionist=r, e164=f"+1555{base + i:07d}")
            for i, (c, r) in enumerate(zip(clinics, receptionists, strict=True))
        ],
        batch_size=2000,
    )
    Provisioning.objects.bulk_create([Provisioning(clinic=c) for c in clinics], batch_size=2000)
    keys: list[str] = [""] * n
    if tokens:
        from tenants.api_tokens import TOKEN_PREFIX, display_prefix, hash_token
        from tenants.models import ApiToken

        keys = [TOKEN_PREFIX + uuid.uuid4().hex + uuid.uuid4().hex for _ in users]
        ApiToken.objects.bulk_create(
            [
                ApiToken(user=u, name="bench", token_hash=hash_token(k), prefix=display_prefix(k))
                for u, k in zip(users, keys, strict=True)
            ],
            batch_size=2000,
        )
    return [
        {"id": str(c.pk), "slug": c.slug, "user_id": u.pk, "token": k}
        for c, u, k in zip(clinics, users, keys, strict=True)
    ]


# --- processes -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Proc:
    """A subprocess in its own session, output to var/bench/<name>.log, stopped by PID."""

    def __init__(self, name: str, args: Sequence[str], env: dict[str, str]) -> None:
        VAR.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.log_path = VAR / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            list(args),
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_for_log(self, needle: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.log_path.read_text(errors="replace"):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        tail = self.log_path.read_text(errors="replace")[-3000:]
        self.stop()
        raise RuntimeError(f"{self.name} did not become ready:\n{tail}")

    def stop(self) -> None:
        import signal

        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()


def start_worker(
    env: dict[str, str], *, pool: str = "threads", concurrency: int = 4, name: str = "worker"
) -> Proc:
    args = [
        sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", QUEUE,
        "-P", pool, "-c", str(concurrency), "-I", "bench.tasks", "-l", "warning",
        "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"{name}-{QUEUE}@%h",
    ]  # fmt: skip
    worker = Proc(name, args, env)
    # -l warning hides the banner; the worker answers a ping once it consumes.
    _wait_worker(worker)
    seconds = os.environ.get("BENCH_PROFILE")
    if seconds:  # py-spy for that many seconds: collapsed stacks in var/bench/<name>.txt
        # (--gil: only the thread holding the GIL, so the samples are the CPU the process spent)
        spy = str(Path(sys.executable).parent / "py-spy")
        subprocess.Popen(
            [spy, "record", "-p", str(worker.pid), "-d", seconds, "-r", "100", "--format",
             "raw", "-o", str(VAR / f"{name}.txt"), "--nonblocking", "--gil"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
    return worker


def _wait_worker(worker: Proc, timeout: float = 60) -> None:
    from config.celery import app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.proc.poll() is not None:
            break
        replies = app.control.ping(destination=[f"{worker.name}-{QUEUE}@{socket.gethostname()}"],
                                   timeout=0.5)  # fmt: skip
        if replies:
            return
    tail = worker.log_path.read_text(errors="replace")[-3000:]
    worker.stop()
    raise RuntimeError(f"celery worker did not start:\n{tail}")


def start_web(
    env: dict[str, str], *, workers: int = 2, threads: int = 1, access_log: bool = True
) -> tuple[Proc, str]:
    """gunicorn on a free port; `access_log=False` runs it exactly as the Dockerfile does."""
    port = free_port()
    args = [
        sys.executable, "-m", "gunicorn", "config.wsgi:application", "-b", f"127.0.0.1:{port}",
        "-w", str(workers), "--threads", str(threads), "--log-level", "warning",
    ]  # fmt: skip
    if access_log:
        args += ["--access-logfile", "-"]
    web = Proc("web", args, env)
    base = f"http://127.0.0.1:{port}"
    import requests

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(base + "/healthz", timeout=1).status_code == 200:
                return web, base
        except requests.RequestException:
            pass
        if web.proc.poll() is not None:
            break
        time.sleep(0.2)
    tail = web.log_path.read_text(errors="replace")[-3000:]
    web.stop()
    raise RuntimeError(f"gunicorn did not start:\n{tail}")


@contextmanager
def emulator(extra_args: Sequence[str] = ()) -> Iterator[Any]:
    from emulators.livekit.testing import EmulatorProcess

    with EmulatorProcess(
        api_key=LIVEKIT_KEY, api_secret=LIVEKIT_SECRET, extra_args=list(extra_args)
    ) as emu:
        yield emu


# --- bulk go-live runs (bench_bulk, bench_projects) ------------------------------------------


def fresh_emulators(emus: Sequence[Any], latency_ms: float) -> None:
    """Each emulator emptied (state, request log, faults; its rate-limit bucket full again),
    then answering every call after `latency_ms`."""
    for emu in emus:
        emu.control.clear_faults()
        emu.control.reset()
        emu.control.add_faults([{"method": "*", "action": "latency", "latency_ms": latency_ms}])


def start_batch_workers(
    livekit_url: str,
    *,
    label: str,
    processes: int,
    concurrency: int,
    per_minute: float,
    burst: float,
    in_flight: int,
    batch_size: int,
    pool: str = "threads",
) -> list[Proc]:
    """The platform's workers for a bulk go-live, with the limiter and batch settings given;
    this process, which publishes the batches, gets the same batch size."""
    from django.conf import settings

    env = platform_env(
        livekit_url,
        LIVEKIT_RATE_LIMIT_PER_MINUTE=str(per_minute),
        LIVEKIT_RATE_LIMIT_BURST=str(burst),
        PROVISIONING_BATCH_IN_FLIGHT=str(in_flight),
        PROVISIONING_BATCH_SIZE=str(batch_size),
    )
    settings.PROVISIONING_BATCH_SIZE = batch_size
    return [
        start_worker(env, pool=pool, concurrency=concurrency, name=f"worker-{label}-{i}")
        for i in range(processes)
    ]


def warm_publisher() -> None:
    """Publish once before measuring. A web process that has served a request publishes with
    its task modules imported and its broker connection open; so does this one then (the
    first publish of a process imports livekit-api and aiohttp and connects: about 0.5 s)."""
    import telephony.tasks  # noqa: F401 (imported on first publish: warm it)
    from bench.tasks import ping

    ping.apply_async(args=[time.time(), f"bench:warm:{uuid.uuid4().hex[:8]}"])


def wait_live(n: int, seconds: float, interval: float) -> int:
    """Poll until all `n` clinics are active at their first generation, for `seconds` at
    most: how many are."""
    from telephony.models import Provisioning

    deadline = time.monotonic() + seconds
    done = 0
    while time.monotonic() < deadline:
        done = Provisioning.objects.filter(
            state="active", observed_generation=1, generation=1
        ).count()
        if done == n:
            break
        time.sleep(interval)
    return done


def converged_after(committing: float, done: int, n: int, label: str) -> list[float]:
    """Seconds from the commit to each clinic's converged_at, sorted; a run whose clinics did
    not all go live fails."""
    from telephony.models import Provisioning

    if done != n:
        raise RuntimeError(f"{label}: only {done} of {n} clinics went live before the deadline")
    return sorted(
        t.timestamp() - committing
        for t in Provisioning.objects.values_list("converged_at", flat=True)
    )


def machine_busy(before: Any, after: Any) -> float:
    """The share of the machine's CPU time busy between two psutil.cpu_times()."""
    idle = (after.idle + after.iowait) - (before.idle + before.iowait)
    total = sum(after) - sum(before)
    return 1 - idle / total if total else float("nan")


def max_in_window(times: list[float], window: float) -> int:
    """The most of the sorted `times` within any `window` seconds."""
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] < t - window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


# --- measuring -------------------------------------------------------------------------------


def tree_rss_mb(pid: int) -> tuple[float, float]:
    """(RSS of the process itself, RSS of it plus its children), in MB."""
    import psutil

    try:
        main = psutil.Process(pid)
        own = main.memory_info().rss
        total = own + sum(c.memory_info().rss for c in main.children(recursive=True))
    except psutil.Error:
        return 0.0, 0.0
    return own / 2**20, total / 2**20


class RssSampler:
    """Peak RSS of a process tree, sampled every `interval` seconds in a thread, and the
    CPU seconds the process itself used meanwhile (`cpu_s`)."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_own = 0.0
        self.peak_total = 0.0
        self.cpu_s = 0.0
        self._cpu_start = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            own, total = tree_rss_mb(self.pid)
            self.peak_own = max(self.peak_own, own)
            self.peak_total = max(self.peak_total, total)
            self._stop.wait(self.interval)

    def _cpu(self) -> float:
        import psutil

        times = psutil.Process(self.pid).cpu_times()
        return float(times.user + times.system)

    def __enter__(self) -> RssSampler:
        self._cpu_start = self._cpu()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.cpu_s = self._cpu() - self._cpu_start


def pct(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100), linear between closest ranks."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary(values: Sequence[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": pct(values, 50),
        "p95": pct(values, 95),
        "max": max(values) if values else float("nan"),
        "mean": statistics.fmean(values) if values else float("nan"),
    }


def write_results(name: str, results: dict[str, Any], directory: Path | None = None) -> Path:
    """bench/results/<name>-<timestamp>.json (or in `directory`: a test's short run), and
    print it as `key value` lines."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    results = {"benchmark": name, "at": stamp, "machine": machine(), **results}
    out = (directory or RESULTS) / f"{name}-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    _print(results)
    print(f"written to {out}")
    return out


def _print(obj: Any, prefix: str = "") -> None:
    for key, value in obj.items():
        label = f"{prefix}{key}"
        if isinstance(value, dict):
            _print(value, label + ".")
        elif isinstance(value, float):
            print(f"{label:44} {value:,.4f}")
        elif isinstance(value, list):
            print(f"{label:44} [{len(value)} items]")
        else:
            print(f"{label:44} {value}")


def machine() -> dict[str, Any]:
    """The machine is shared: the load average says how much others were using it, and the
    calibration how fast one core was at the end (the same pure-Python loop every time; on
    the development VM it ranged from 0.11 s to 0.18 s within a minute, nothing else running)."""
    return {
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "loadavg_1m_at_end": os.getloadavg()[0],
        "loadavg_5m_at_end": os.getloadavg()[1],
        "cpu_calibration_s": cpu_calibration(),
    }


def cpu_calibration(rounds: int = 3) -> float:
    """Seconds for 2,000,000 additions in pure Python, best of `rounds`."""
    best = float("inf")
    for _ in range(rounds):
        began = time.perf_counter()
        total = 0
        for i in range(2_000_000):
            total += i
        best = min(best, time.perf_counter() - began)
    return round(best, 3)


def plot_path(name: str) -> Path:
    """The latest plot of a benchmark (docs/benchmarks.md shows these)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    return RESULTS / f"{name}.png"


def pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
