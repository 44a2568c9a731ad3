"""The LiveKit emulator for tests/telephony: one subprocess per test module, over HTTP.

A module sets what differs by overriding a fixture of the same name:
- `emulator_args` (module scope): the emulator's command-line flags, e.g. `--reword-errors`;
  parametrise it to run every test of the module against each;
- `lk_settings`: settings for each test on top of the defaults below (a longer timeout, the
  rate limiter out of the way, LIVEKIT_IS_EMULATOR).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from emulators.livekit.testing import EmulatorControl, EmulatorProcess
from telephony.ratelimit import reset_limiter
from tests.telephony.emulator_helpers import KEY, SECRET


@pytest.fixture(scope="module")
def emulator_args() -> list[str]:
    return []


@pytest.fixture(scope="module")
def emulator(emulator_args: list[str]) -> Iterator[EmulatorProcess]:
    with EmulatorProcess(api_key=KEY, api_secret=SECRET, extra_args=emulator_args) as emu:
        yield emu


@pytest.fixture
def lk_settings() -> dict[str, Any]:
    return {}


@pytest.fixture
def lk(
    emulator: EmulatorProcess, settings: Any, lk_settings: dict[str, Any]
) -> Iterator[EmulatorControl]:
    """A clean emulator and the settings that point the gateway at it."""
    emulator.control.clear_faults()
    emulator.control.reset()
    settings.LIVEKIT_URL = emulator.url
    settings.LIVEKIT_API_KEY = KEY
    settings.LIVEKIT_API_SECRET = SECRET
    settings.LIVEKIT_TIMEOUT_SECONDS = 2
    for name, value in lk_settings.items():
        setattr(settings, name, value)
    # A deployment of its own: its own marker and its own rate-limit keys in Redis.
    settings.SWITCHBOARD_DEPLOYMENT_ID = f"test-{uuid.uuid4().hex[:8]}"
    reset_limiter()
    yield emulator.control
    reset_limiter()
