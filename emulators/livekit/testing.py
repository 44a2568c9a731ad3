"""Test helpers for the emulator: a real subprocess and a small sync control-plane client.

Django-free and dependency-free (urllib only), so any test suite can use it::

    with EmulatorProcess() as emu:
        # talk LiveKit to emu.url with emu.api_key / emu.api_secret (livekit-api)
        emu.control.add_faults([{"method": "CreateSIPInboundTrunk", "action": "commit_then_drop"}])
        ...
        assert emu.control.created_ids("CreateSIPInboundTrunk") == [...]
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from .config import DEV_API_SECRET

REPO_ROOT = Path(__file__).resolve().parents[2]
READY_PREFIX = "emulator listening on "
T = TypeVar("T")


class EmulatorError(RuntimeError):
    """The emulator process failed, or the control plane answered an error."""


class EmulatorControl:
    """Sync client for ``/_emulator/`` (JSON over plain HTTP)."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        on_failure: Callable[[], str] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._on_failure = on_failure or (lambda: "")

    def _request(self, method: str, path: str, payload: Any = None) -> Any:
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(  # noqa: S310 - fixed http:// URL to our own emulator
            f"{self.base_url}/_emulator/{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310  # nosec B310 (http URL to our own emulator)
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            body = exc.read().decode(errors="replace")
            raise EmulatorError(f"{method} /_emulator/{path} -> {exc.code}: {body}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise EmulatorError(
                f"{method} /_emulator/{path} failed: {exc}{self._on_failure()}"
            ) from exc

    def healthz(self) -> dict[str, Any]:
        return dict(self._request("GET", "healthz"))

    def reset(self) -> None:
        self._request("POST", "reset", {})

    def state(self) -> dict[str, list[dict[str, Any]]]:
        return dict(self._request("GET", "state"))

    def requests(self, method: str | None = None, since: int = 0) -> list[dict[str, Any]]:
        query = f"requests?since={since}" + (f"&method={method}" if method else "")
        return list(self._request("GET", query)["requests"])

    def requests_summary(self) -> dict[str, Any]:
        return dict(self._request("GET", "requests"))

    def created_ids(self, method: str) -> list[str]:
        """IDs stored by ``method``, including creates whose reply was dropped."""
        return [r["created_id"] for r in self.requests(method) if r["created_id"]]

    def add_faults(self, rules: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        return list(self._request("POST", "faults", {"rules": list(rules)})["rules"])

    def faults(self) -> list[dict[str, Any]]:
        return list(self._request("GET", "faults")["rules"])

    def clear_faults(self) -> None:
        self._request("DELETE", "faults")

    def call(
        self,
        from_: str,
        to: str,
        *,
        source_ip: str | None = None,
        from_host: str | None = None,
        pin: str | None = None,
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {"from": from_, "to": to}
        for key, value in (("source_ip", source_ip), ("from_host", from_host), ("pin", pin)):
            if value is not None:
                payload[key] = value
        return dict(self._request("POST", "calls", payload))

    def webhooks(self) -> list[dict[str, Any]]:
        return list(self._request("GET", "webhooks")["deliveries"])

    def webhooks_pending(self) -> int:
        """Webhook events queued or being posted: 0 once every one has been answered."""
        return int(self._request("GET", "webhooks")["pending"])

    def wait_webhooks_delivered(self, timeout: float = 15.0) -> None:
        """Until every queued webhook has been answered: a test that resets the database
        next must not do it under a webhook the platform is still handling."""
        self.wait_for(lambda: self.webhooks_pending() == 0, timeout=timeout)

    def wait_for(self, probe: Callable[[], T | None], timeout: float = 10.0) -> T:
        """Poll ``probe`` until it returns something truthy (no fixed sleeps in tests)."""
        deadline = time.monotonic() + timeout
        while True:
            value = probe()
            if value:
                return value
            if time.monotonic() > deadline:
                raise EmulatorError(f"condition not met within {timeout}s")
            time.sleep(0.02)


class EmulatorProcess:
    """``python -m emulators.livekit --port 0 …`` as a real subprocess.

    The real port is read from the readiness line. stderr goes to a file (``stderr_path``) that
    error messages quote when the process dies. Stopping sends SIGTERM and waits.
    """

    def __init__(
        self,
        *,
        api_key: str = "devkey",
        api_secret: str | None = DEV_API_SECRET,
        state: str | os.PathLike[str] | None = None,
        webhook_url: str | None = None,
        extra_args: Sequence[str] = (),
        host: str = "127.0.0.1",
        startup_timeout: float = 20.0,
        log_dir: str | os.PathLike[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        """``api_secret=None`` passes no ``--api-secret`` (the emulator then reads the env)."""
        self.api_key = api_key
        self.api_secret = api_secret or (env or {}).get("LIVEKIT_API_SECRET") or DEV_API_SECRET
        self.extra_env = dict(env or {})
        self.host = host
        self.startup_timeout = startup_timeout
        self.args = [sys.executable, "-m", "emulators.livekit", "--host", host, "--port", "0"]
        self.args += ["--api-key", api_key]
        if api_secret is not None:
            self.args += ["--api-secret", api_secret]
        if state is not None:
            self.args += ["--state", str(state)]
        if webhook_url is not None:
            self.args += ["--webhook-url", webhook_url]
        self.args += list(extra_args)
        directory = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="emulator-"))
        self.stderr_path = directory / "emulator.stderr.log"
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0
        self._lines: queue.Queue[str | None] = queue.Queue()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None, "not started"
        return self.proc.pid

    @property
    def control(self) -> EmulatorControl:
        return EmulatorControl(self.url, on_failure=self._failure_note)

    def stderr_tail(self, limit: int = 4000) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")[-limit:]
        except OSError:
            return ""

    def _failure_note(self) -> str:
        if self.proc is not None and self.proc.poll() is not None:
            return (
                f" (emulator exited with {self.proc.returncode}; stderr {self.stderr_path}:\n"
                f"{self.stderr_tail()})"
            )
        return ""

    def _pump(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def start(self) -> EmulatorProcess:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        env["PYTHONUNBUFFERED"] = "1"
        env.update(self.extra_env)
        with open(self.stderr_path, "ab") as stderr:
            self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                self.args, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env
            )
        threading.Thread(target=self._pump, daemon=True, name="emulator-stdout").start()
        deadline = time.monotonic() + self.startup_timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                self.stop()
                raise EmulatorError(
                    f"emulator not ready after {self.startup_timeout}s{self._failure_note()}"
                ) from None
            if line is None:
                self.proc.wait(timeout=5)
                raise EmulatorError(f"emulator exited before it was ready{self._failure_note()}")
            if line.startswith(READY_PREFIX):
                self.port = int(line.strip().rsplit(":", 1)[1])
                return self

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM and wait; SIGKILL if it does not stop in time. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout)
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
