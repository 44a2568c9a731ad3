"""Real parts for acceptance tests: the emulator and a `celery worker` as subprocesses,
PostgreSQL and Redis over real connections, the platform served over HTTP (live_server).

The worker runs against pytest-django's test database (data is committed: these tests use
transactional_db) and a queue of its own, so concurrent test runs never share messages.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from django.conf import settings as django_settings
from django.db import connection

from config.celery import app as celery_app
from emulators.livekit.testing import EmulatorControl, EmulatorProcess
from telephony.models import LiveKitProject
from telephony.projects import default_project
from telephony.ratelimit import reset_limiter

ROOT = Path(__file__).resolve().parents[2]
EMULATOR_KEY = "devkey"
EMULATOR_SECRET = "e2e-secret-for-the-emulator-0123456789abcdef"


def wait_until(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05) -> Any:
    """Poll a condition (never a bare sleep): return its first truthy value or fail."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {predicate}")
        time.sleep(interval)


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorProcess]:
    with EmulatorProcess(api_key=EMULATOR_KEY, api_secret=EMULATOR_SECRET) as emu:
        yield emu


def point_at(settings: Any, emulator: EmulatorProcess) -> None:
    """Point this process (gateway, test calls) at an emulator."""
    settings.LIVEKIT_URL = emulator.url
    settings.LIVEKIT_API_KEY = EMULATOR_KEY
    settings.LIVEKIT_API_SECRET = EMULATOR_SECRET
    settings.LIVEKIT_IS_EMULATOR = True


@pytest.fixture
def livekit(emulator: EmulatorProcess, settings: Any) -> EmulatorControl:
    """A clean emulator (its control plane), and this process's gateway pointed at it."""
    emulator.control.clear_faults()
    emulator.control.reset()
    point_at(settings, emulator)
    return emulator.control


class Worker:
    """A `celery -A config worker` subprocess with its output kept for assertions."""

    def __init__(self, env: dict[str, str], queue_name: str, concurrency: int = 2) -> None:
        self.queue_name = queue_name
        self.lines: list[str] = []
        self._ready: queue.Queue[bool] = queue.Queue()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-Q",
                queue_name,
                "-c",
                str(concurrency),
                "-l",
                "info",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                f"e2e-{queue_name}@%h",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        threading.Thread(target=self._pump, daemon=True).start()
        try:
            self._ready.get(timeout=60)
        except queue.Empty:
            self.stop()
            raise RuntimeError(
                "celery worker did not start:\n" + "".join(self.lines[-40:])
            ) from None

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for raw in iter(self.proc.stdout.readline, b""):
            line = raw.decode(errors="replace")
            self.lines.append(line)
            if " ready." in line:
                self._ready.put(True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def worker_env(emulator_url: str, queue_name: str) -> dict[str, str]:
    db = connection.settings_dict
    env = dict(os.environ)
    env.update(
        DEBUG="true",
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        CELERY_BROKER_URL=django_settings.CELERY_BROKER_URL,
        CELERY_TASK_DEFAULT_QUEUE=queue_name,
        LIVEKIT_URL=emulator_url,
        LIVEKIT_API_KEY=EMULATOR_KEY,
        LIVEKIT_API_SECRET=EMULATOR_SECRET,
        LIVEKIT_TIMEOUT_SECONDS="3",
        PROVISIONING_LEASE_SECONDS="10",
        LIVEKIT_RATE_LIMIT_MAX_WAIT_SECONDS="2",
        PROVISIONING_BACKOFF_BASE_SECONDS="0.2",
        PROVISIONING_BACKOFF_MAX_SECONDS="2",
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.fixture
def worker(
    transactional_db: None, emulator: EmulatorProcess, livekit: EmulatorProcess
) -> Iterator[Worker]:
    """A fresh worker per test, on a queue of its own; this process publishes to it."""
    with worker_on_own_queue(emulator.url) as w:
        yield w


@contextmanager
def worker_on_own_queue(
    emulator_url: str, tag: str = "e2e", extra_env: dict[str, str] | None = None
) -> Iterator[Worker]:
    """A worker subprocess on a fresh queue, with this process publishing to that queue
    (`extra_env`: more settings for the worker, e.g. the carrier emulators' addresses)."""
    queue_name = f"{tag}-{uuid.uuid4().hex[:8]}"
    previous = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = queue_name
    w = Worker({**worker_env(emulator_url, queue_name), **(extra_env or {})}, queue_name)
    try:
        yield w
    finally:
        w.stop()
        celery_app.conf.task_default_queue = previous


class Api:
    """The platform's HTTP API over a real socket, as a script would use it."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/") + "/api/v1"
        self.session = requests.Session()

    def auth(self, token: str) -> None:
        self.session.headers["Authorization"] = f"Token {token}"

    def __call__(self, method: str, path: str, **kw: Any) -> requests.Response:
        return self.session.request(method, f"{self.base}/{path.lstrip('/')}", timeout=30, **kw)


@pytest.fixture
def api(live_server: Any) -> Api:
    return Api(live_server.url)


# --- Three LiveKit projects (issue 17) ------------------------------------------------------


@dataclass(frozen=True)
class ThreeProjects:
    """Three emulator processes as three LiveKit projects: a, the default (the LIVEKIT_*
    settings of this process and of the worker), b and c, registered with keys of their own.

    A module that uses the `emulators` and `projects` fixtures says which by overriding the
    module-scoped `three_projects` fixture with one of these."""

    tag: str  # in b's and c's keys and secrets
    names: dict[str, str]  # "a", "b", "c" -> the project's name ("a" is "default")
    sip_domain: str  # b's SIP URI is sip:b.<sip_domain>
    # More arguments of a project's emulator, e.g. a rate limit of its own:
    # {"b": ["--rate-limit-per-minute", "60", "--rate-limit-burst", "4"]}.
    emulator_args: dict[str, list[str]] = field(default_factory=dict)
    webhooks: bool = False  # every emulator sends its webhooks to the platform (live_server)
    regions: dict[str, str] = field(default_factory=dict)
    weights: dict[str, int] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)  # this process's, for each test

    def keys(self, project: str) -> tuple[str, str]:
        if project == "a":
            return EMULATOR_KEY, EMULATOR_SECRET  # the worker's LIVEKIT_* (worker_env)
        return f"{self.tag}key{project}", f"{self.tag}-secret-of-project-{project}-0123456789abcdef"


@pytest.fixture(scope="module")
def three_projects() -> ThreeProjects:
    raise NotImplementedError("override three_projects in the test module (ThreeProjects)")


@pytest.fixture(scope="module")
def emulators(
    three_projects: ThreeProjects, request: pytest.FixtureRequest
) -> Iterator[dict[str, EmulatorProcess]]:
    """The three projects' emulator processes, started once for the module."""
    spec = three_projects
    hook = None
    if spec.webhooks:
        hook = f"{request.getfixturevalue('live_server').url}/webhooks/livekit"
    procs = {}
    for name in "abc":
        key, secret = spec.keys(name)
        args = spec.emulator_args.get(name, [])
        procs[name] = EmulatorProcess(
            api_key=key, api_secret=secret, webhook_url=hook, extra_args=args
        )
    try:
        for proc in procs.values():
            proc.start()
        yield procs
    finally:
        for proc in procs.values():
            proc.stop()


@pytest.fixture
def projects(
    transactional_db: None,
    three_projects: ThreeProjects,
    emulators: dict[str, EmulatorProcess],
    settings: Any,
) -> Iterator[dict[str, LiveKitProject]]:
    """Clean emulators, this process pointed at a, and b and c registered: the three
    LiveKitProject rows by "a", "b", "c"."""
    spec = three_projects
    for proc in emulators.values():
        proc.control.clear_faults()
        proc.control.reset()
    settings.LIVEKIT_URL = emulators["a"].url
    settings.LIVEKIT_API_KEY, settings.LIVEKIT_API_SECRET = spec.keys("a")
    for name, value in spec.settings.items():
        setattr(settings, name, value)
    reset_limiter()
    a = default_project()
    if "a" in spec.regions:
        a.region = spec.regions["a"]
        a.save()
    made: dict[str, LiveKitProject] = {"a": a}
    for name in "bc":
        key, secret = spec.keys(name)
        extra: dict[str, Any] = {}
        if name in spec.regions:
            extra["region"] = spec.regions[name]
        if name in spec.weights:
            extra["capacity_weight"] = spec.weights[name]
        made[name] = LiveKitProject.objects.create(
            name=spec.names[name],
            url=emulators[name].url,
            api_key=key,
            api_secret=secret,
            sip_uri=f"sip:{name}.{spec.sip_domain}",
            **extra,
        )
    yield made
    reset_limiter()
    if spec.webhooks:
        # The database is flushed after this: not under a webhook the platform is handling.
        for proc in emulators.values():
            proc.control.wait_webhooks_delivered()


# --- The carrier emulators (issue 14) ------------------------------------------------------

TWILIO_NUMBERS = ["+14155550161", "+14155550162", "+14155550163"]
TELNYX_NUMBERS = ["+13125550161", "+13125550162", "+13125550163"]
TELNYX_KEY = "KEYe2e0123456789ABCDEF"
# Where LiveKit takes SIP calls, as the worker and this process both see it.
CARRIER_SIP_URI = "sip:lk-e2e.sip.example.net"


@pytest.fixture(scope="session")
def carrier_emulators(tmp_path_factory: Any) -> Iterator[tuple[Any, Any]]:
    from emulators.telnyx.testing import TelnyxProcess
    from emulators.twilio.testing import TwilioProcess

    logs = tmp_path_factory.mktemp("carriers")
    with (
        TwilioProcess(numbers=TWILIO_NUMBERS, log_dir=logs) as twilio,
        TelnyxProcess(api_key=TELNYX_KEY, numbers=TELNYX_NUMBERS, log_dir=logs) as telnyx,
    ):
        yield twilio, telnyx


@pytest.fixture
def carriers(carrier_emulators: tuple[Any, Any], settings: Any) -> tuple[Any, Any]:
    """Both carrier emulators, reset, with this process pointed at them."""
    for emu in carrier_emulators:
        emu.control.clear_faults()
        emu.control.reset()
    twilio, telnyx = carrier_emulators
    settings.TWILIO_API_BASE_URL = twilio.url
    settings.TELNYX_API_BASE_URL = telnyx.base_url
    settings.LIVEKIT_SIP_URI = CARRIER_SIP_URI
    return carrier_emulators


def carrier_env(carriers: tuple[Any, Any]) -> dict[str, str]:
    twilio, telnyx = carriers
    return {
        "TWILIO_API_BASE_URL": twilio.url,
        "TELNYX_API_BASE_URL": telnyx.base_url,
        "LIVEKIT_SIP_URI": CARRIER_SIP_URI,
        "CARRIER_TIMEOUT_SECONDS": "3",
    }


@pytest.fixture
def carrier_worker(
    transactional_db: None, emulator: EmulatorProcess, livekit: EmulatorControl, carriers: Any
) -> Iterator[Worker]:
    """A worker that talks to the LiveKit emulator and both carrier emulators."""
    with worker_on_own_queue(emulator.url, "carrier", carrier_env(carriers)) as w:
        yield w
