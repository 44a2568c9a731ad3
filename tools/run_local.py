"""`make run`: the whole platform in the foreground, on a fresh machine.

Starts the LiveKit emulator (unless LIVEKIT_URL is set), migrates, then runs the web
server, a Celery worker and Celery beat. Output is prefixed per process; Ctrl-C (or
SIGTERM) stops all of them. Embedded defaults: SQLite and Celery's SQLAlchemy transport
on SQLite under var/; DATABASE_URL, CELERY_BROKER_URL / REDIS_URL and LIVEKIT_URL switch
each part to the real thing. On its first start it writes `.env.local` (DEBUG=true) so that
manage.py commands in another terminal find the same local settings; an existing one is kept.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEV_LIVEKIT_SECRET = "switchboard-emulator-dev-secret-0123456789"  # noqa: S105 (public dev value)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("DEBUG", "true")
    env.setdefault("REQUIRE_EMAIL_VERIFICATION", "false")
    # Local receivers (http://127.0.0.1:...) for the clinic's webhooks.
    env.setdefault("WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS", "true")
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def _pump(name: str, proc: subprocess.Popen[bytes]) -> None:
    assert proc.stdout is not None
    for raw in iter(proc.stdout.readline, b""):
        sys.stdout.write(f"[{name:8}] {raw.decode(errors='replace')}")
        sys.stdout.flush()


class Supervisor:
    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.stopping = False

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(  # noqa: S603 (our own commands)
            args,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append((name, proc))
        threading.Thread(target=_pump, args=(name, proc), daemon=True).start()
        return proc

    def stop(self) -> None:
        self.stopping = True
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for _, proc in self.procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def watch(self) -> int:
        while not self.stopping:
            for name, proc in self.procs:
                code = proc.poll()
                if code is not None:
                    print(f"[run     ] {name} exited with {code}; stopping everything")
                    return 1
            time.sleep(0.5)
        return 0


LOCAL_SETTINGS = """\
# Written by `make run` (tools/run_local.py) on its first start; it never overwrites this file.
# Git-ignored. config/settings.py reads it after the environment and .env, so that commands
# such as `.venv/bin/python manage.py createsuperuser` in another terminal use the same
# local settings as `make run`: DEBUG=true gives the development defaults (SQLite and the
# broker under var/, the emulator on http://127.0.0.1:7880, public development secrets).
# Delete it to go back to production defaults.
DEBUG=true
REQUIRE_EMAIL_VERIFICATION=false
"""


def write_local_settings(root: Path = ROOT) -> bool:
    """Create root/.env.local for commands run outside `make run`; never replace one."""
    try:
        with (root / ".env.local").open("x") as f:
            f.write(LOCAL_SETTINGS)
    except FileExistsError:
        return False
    return True


def _start_emulator(sup: Supervisor, env: dict[str, str], py: str, web_port: str) -> None:
    port = env.get("EMULATOR_PORT", "7880")
    var = Path(env.get("VAR_DIR", ROOT / "var"))
    var.mkdir(parents=True, exist_ok=True)
    env["LIVEKIT_URL"] = f"http://127.0.0.1:{port}"
    env.setdefault("LIVEKIT_API_SECRET", DEV_LIVEKIT_SECRET)
    env["LIVEKIT_IS_EMULATOR"] = "true"
    sup.start(
        "emulator",
        [
            py,
            "-m",
            "emulators.livekit",
            "--port",
            port,
            "--api-key",
            env.get("LIVEKIT_API_KEY", "devkey"),
            "--api-secret",
            env["LIVEKIT_API_SECRET"],
            "--state",
            str(var / "emulator-state.json"),
            # Simulated calls (the dashboard's test call) report back like LiveKit does.
            "--webhook-url",
            f"http://127.0.0.1:{web_port}/webhooks/livekit",
        ],
        env,
    )


# The carrier emulators' development accounts (docs/carriers.md): paste these on the carrier
# step to try the automatic carrier set-up.
DEV_TWILIO_ACCOUNT_SID = "AC" + "0" * 31 + "1"
DEV_TWILIO_AUTH_TOKEN = "switchboard-twilio-dev-token"  # noqa: S105 (public dev value)
DEV_TELNYX_API_KEY = "KEYswitchboard-telnyx-dev-key"
DEV_CARRIER_NUMBERS = "+14155550100,+14155550101,+14155550102"


def _start_carrier_emulators(sup: Supervisor, env: dict[str, str], py: str) -> None:
    """The Twilio and Telnyx emulators, unless TWILIO_API_BASE_URL / TELNYX_API_BASE_URL
    point elsewhere (empty means the real services, so only unset starts them)."""
    if "TWILIO_API_BASE_URL" not in env:
        port = env.get("TWILIO_EMULATOR_PORT", "7881")
        env["TWILIO_API_BASE_URL"] = f"http://127.0.0.1:{port}"
        sup.start(
            "twilio",
            [py, "-m", "emulators.twilio", "--port", port, "--account-sid",
             DEV_TWILIO_ACCOUNT_SID, "--auth-token", DEV_TWILIO_AUTH_TOKEN,
             "--numbers", DEV_CARRIER_NUMBERS],
            env,
        )  # fmt: skip
        print(
            f"[run     ] Twilio emulator: account SID {DEV_TWILIO_ACCOUNT_SID}, auth token "
            f"{DEV_TWILIO_AUTH_TOKEN}"
        )
    if "TELNYX_API_BASE_URL" not in env:
        port = env.get("TELNYX_EMULATOR_PORT", "7882")
        env["TELNYX_API_BASE_URL"] = f"http://127.0.0.1:{port}/v2"
        sup.start(
            "telnyx",
            [py, "-m", "emulators.telnyx", "--port", port, "--api-key", DEV_TELNYX_API_KEY,
             "--numbers", DEV_CARRIER_NUMBERS],
            env,
        )  # fmt: skip
        print(f"[run     ] Telnyx emulator: API key {DEV_TELNYX_API_KEY}")


# With the embedded SQLite broker, the worker and beat each create the default queue's row
# when they start; started together they can both insert it, and the loser exits on the
# UNIQUE constraint. Declaring the queue once before starting them leaves nothing to race.
DECLARE_QUEUE = (
    "import django; django.setup(); from config.celery import app\n"
    "with app.connection_for_write() as conn:\n"
    "    conn.default_channel.queue_declare(app.conf.task_default_queue)\n"
)


def _prepare_database(env: dict[str, str], py: str) -> int:
    migrate = subprocess.run([py, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env)  # noqa: S603
    if migrate.returncode == 0:
        migrate = subprocess.run([py, "manage.py", "createcachetable"], cwd=ROOT, env=env)  # noqa: S603
    if migrate.returncode == 0:
        declare_env = {**env, "DJANGO_SETTINGS_MODULE": "config.settings"}
        migrate = subprocess.run([py, "-c", DECLARE_QUEUE], cwd=ROOT, env=declare_env)  # noqa: S603
    return migrate.returncode


def _start_platform(sup: Supervisor, env: dict[str, str], py: str, web_port: str) -> None:
    sup.start("web", [py, "manage.py", "runserver", f"127.0.0.1:{web_port}", "--noreload"], env)
    celery = [py, "-m", "celery", "-A", "config"]
    concurrency = env.get("WORKER_CONCURRENCY", "2")
    sup.start("worker", [*celery, "worker", "-l", "info", "-c", concurrency], env)
    schedule = Path(env.get("VAR_DIR", ROOT / "var")) / "celerybeat-schedule"
    sup.start("beat", [*celery, "beat", "-l", "info", "-s", str(schedule)], env)


def main() -> int:
    env = _env()
    py = sys.executable
    web_port = env.get("WEB_PORT", "8000")
    sup = Supervisor()

    def on_signal(signum: int, _frame: object) -> None:
        sup.stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    if write_local_settings():
        print("[run     ] wrote .env.local: manage.py commands in other terminals use it")
    if not env.get("LIVEKIT_URL"):
        _start_emulator(sup, env, py, web_port)
    _start_carrier_emulators(sup, env, py)
    code = _prepare_database(env, py)
    if code != 0:
        sup.stop()
        return code
    print(
        f"[run     ] Switchboard on http://127.0.0.1:{web_port}/  (LiveKit: {env['LIVEKIT_URL']})"
    )
    print(
        "[run     ] staff console: create a login with `.venv/bin/python manage.py createsuperuser`"
    )
    _start_platform(sup, env, py, web_port)
    code = sup.watch()
    sup.stop()
    print("[run     ] stopped")
    return code


if __name__ == "__main__":
    sys.exit(main())
