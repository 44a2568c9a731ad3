"""Test helpers shared by the carrier emulators: the process runner and the control client.

Both build on the LiveKit emulator's (emulators/livekit/testing.py): the same readiness line,
SIGTERM/SIGKILL handling and stderr capture, and the same ``/_emulator/`` client, with a
generic ``post``/``get`` for each carrier's own control routes. Django-free, urllib only.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from emulators.livekit.testing import EmulatorControl, EmulatorProcess


class CarrierControl(EmulatorControl):
    """``/_emulator/`` of a carrier emulator."""

    def post(self, path: str, payload: dict[str, Any]) -> Any:
        return self._request("POST", path, payload)

    def get(self, path: str) -> Any:
        return self._request("GET", path)


class CarrierProcess(EmulatorProcess):
    """``python -m emulators.<module> --host H --port 0 <args>`` as a real subprocess."""

    def __init__(
        self,
        module: str,
        args: Sequence[str],
        *,
        host: str = "127.0.0.1",
        log_dir: str | os.PathLike[str] | None = None,
        env: dict[str, str] | None = None,
        startup_timeout: float = 20.0,
    ) -> None:
        super().__init__(host=host, log_dir=log_dir, env=env, startup_timeout=startup_timeout)
        self.args = [self.args[0], "-m", module, "--host", host, "--port", "0", *args]
        self.stderr_path = self.stderr_path.with_name(f"{module.rsplit('.', 1)[-1]}.stderr.log")

    @property
    def control(self) -> CarrierControl:
        return CarrierControl(self.url, on_failure=self._failure_note)
