"""The receiver as a subprocess for tests (tests/e2e), with its control plane."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import requests


class ReceiverProcess:
    """``python -m emulators.webhook_receiver`` on a port (0: any), stopped with SIGTERM."""

    def __init__(self, *, port: int = 0, state: Path | None = None) -> None:
        self.port = port
        self.state = state
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> ReceiverProcess:
        args = [sys.executable, "-m", "emulators.webhook_receiver", "--port", str(self.port)]
        if self.state is not None:
            args += ["--state", str(self.state)]
        self.proc = subprocess.Popen(  # noqa: S603 (our own module)
            args,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            self.stop()
            raise RuntimeError(f"webhook receiver did not start: {line!r}")
        self.port = int(line.rsplit(":", 1)[1])
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def __enter__(self) -> ReceiverProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _post(self, path: str, body: dict[str, Any]) -> None:
        requests.post(self.url + path, json=body, timeout=5).raise_for_status()

    def set_secrets(self, *secrets: str) -> None:
        self._post("/_control/secrets", {"secrets": list(secrets)})

    def faults(self, **fault: Any) -> None:
        self._post("/_control/faults", fault)

    def log(self) -> dict[str, Any]:
        r = requests.get(self.url + "/_control/log", timeout=5)
        r.raise_for_status()
        result: dict[str, Any] = r.json()
        return result
