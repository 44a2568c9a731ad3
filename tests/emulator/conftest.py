"""Fixtures for the emulator tests: no Django, a real emulator subprocess, a real socket.

These tests never use the database, so they pass with and without the pytest-django plugin.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest
from livekit import api

from emulators.livekit.testing import EmulatorControl, EmulatorProcess

T = TypeVar("T")
SECRET = "emulator-test-secret-0123456789-abcdef"  # >= 32 bytes: no PyJWT key-length warning


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    with EmulatorProcess(api_secret=SECRET, log_dir=tmp_path_factory.mktemp("emu")) as emu:
        yield emu


@pytest.fixture
def emu(emulator: EmulatorProcess) -> EmulatorProcess:
    """The shared emulator, reset (store, request log, faults) before the test."""
    emulator.control.reset()
    return emulator


@pytest.fixture
def control(emu: EmulatorProcess) -> EmulatorControl:
    return emu.control


def run_api(emu: EmulatorProcess, fn: Callable[[api.LiveKitAPI], Awaitable[T]]) -> T:
    """Run ``fn(lk)`` with an unchanged livekit-api client built inside the event loop."""

    async def main() -> T:
        async with api.LiveKitAPI(emu.url, emu.api_key, emu.api_secret) as lk:
            return await fn(lk)

    return asyncio.run(main())


@pytest.fixture
def lk(emu: EmulatorProcess) -> Callable[[Callable[[api.LiveKitAPI], Awaitable[Any]]], Any]:
    return lambda fn: run_api(emu, fn)
