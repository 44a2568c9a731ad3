"""The README's next steps after `make run`, typed in a second terminal of a fresh clone.

`make run` (tools/run_local.py) is started in a copy of the repository's files, with nothing
but PATH and HOME in its environment; then the README's commands run there with the same bare
environment: `.venv/bin/python manage.py createsuperuser` and `create_agent_token`. Each must
work and act on the database the running platform uses (the new staff login signs in to the
admin; the new token authenticates against the agent API).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import uuid
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import wait_until

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e
PASSWORD = "a-Long-passw0rd!"


def fresh_clone(dest: Path) -> Path:
    """The files a clone would have (tracked and not ignored), plus the installed .venv."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    for rel in filter(None, listed.decode().split("\0")):
        source = ROOT / rel
        if source.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / rel)
    (dest / ".venv").symlink_to(ROOT / ".venv")
    return dest


def _free_ports(count: int) -> list[int]:
    """Distinct free ports (all held open while choosing, so no two are the same)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _up(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.ConnectionError:
        return False


def test_readme_commands_work_in_a_second_terminal_after_make_run(tmp_path):
    clone = fresh_clone(tmp_path / "clone")
    assert not (clone / ".env.local").exists()
    shell = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)}
    web, emu = _free_ports(2)
    log = (tmp_path / "run.log").open("wb")
    proc = subprocess.Popen(
        [".venv/bin/python", "-m", "tools.run_local"],
        cwd=clone,
        env={**shell, "WEB_PORT": str(web), "EMULATOR_PORT": str(emu), "PYTHONUNBUFFERED": "1"},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{web}"

    def second_terminal(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [".venv/bin/python", "manage.py", *args],
            cwd=clone,
            env={**shell, **extra},
            capture_output=True,
            text=True,
            timeout=120,
        )

    try:

        def web_up() -> bool:
            assert proc.poll() is None, (tmp_path / "run.log").read_text(errors="replace")[-3000:]
            return _up(f"{base}/healthz")

        wait_until(web_up, timeout=180, interval=0.5)

        made = second_terminal(
            "createsuperuser",
            "--noinput",
            "--email",
            "staff@clinic.example",
            DJANGO_SUPERUSER_PASSWORD=PASSWORD,
        )
        assert made.returncode == 0, made.stderr
        admin = requests.Session()
        admin.get(f"{base}/login/", timeout=30)  # the admin's login page redirects here
        signed_in = admin.post(
            f"{base}/login/?next=/admin/",
            data={
                "username": "staff@clinic.example",
                "password": PASSWORD,
                "csrfmiddlewaretoken": admin.cookies["csrftoken"],
                "next": "/admin/",
            },
            headers={"Referer": f"{base}/login/"},
            timeout=30,
        )
        # The password worked; staff set up two-factor sign-in before the admin opens.
        assert signed_in.url.startswith(f"{base}/account/two-factor/"), signed_in.text[-2000:]
        assert "Staff accounts need two-factor sign-in" in signed_in.text

        token = second_terminal("create_agent_token", "receptionist")
        assert token.returncode == 0, token.stderr
        raw = token.stdout.strip()
        assert re.fullmatch(r"\S{20,}", raw), token.stdout
        config_url = f"{base}/api/v1/agent/config?clinic={uuid.uuid4()}"
        answer = requests.get(config_url, headers={"Authorization": f"Bearer {raw}"}, timeout=30)
        assert answer.status_code == 404, answer.text  # known token, unknown clinic
        wrong = requests.get(config_url, headers={"Authorization": "Bearer nope"}, timeout=30)
        assert wrong.status_code == 401
        assert "DEBUG=true" in (clone / ".env.local").read_text().splitlines()
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
        log.close()
