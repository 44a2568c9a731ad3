"""The platform against the Twilio and Telnyx emulators (real subprocesses over HTTP)."""

from __future__ import annotations

import pytest

from emulators.telnyx.testing import TelnyxProcess
from emulators.twilio.testing import TwilioProcess
from tests.carrier_emulators.conftest import (
    KEY_SECRET,
    KEY_SID,
    NUMBERS,
    RESTRICTED_SID,
    TELNYX_KEY,
    TELNYX_NUMBERS,
)

__all__ = ["KEY_SECRET", "KEY_SID", "NUMBERS", "RESTRICTED_SID", "TELNYX_KEY", "TELNYX_NUMBERS"]


@pytest.fixture(scope="session")
def twilio_process(tmp_path_factory):
    keys = [f"{KEY_SID}:{KEY_SECRET}", f"{RESTRICTED_SID}:{KEY_SECRET}:restricted"]
    with TwilioProcess(
        numbers=NUMBERS, api_keys=keys, log_dir=tmp_path_factory.mktemp("twilio")
    ) as emu:
        yield emu


@pytest.fixture(scope="session")
def telnyx_process(tmp_path_factory):
    with TelnyxProcess(
        api_key=TELNYX_KEY, numbers=TELNYX_NUMBERS, log_dir=tmp_path_factory.mktemp("telnyx")
    ) as emu:
        yield emu


@pytest.fixture
def twilio(twilio_process, settings):
    """The Twilio emulator, reset, with the platform pointed at it."""
    twilio_process.control.reset()
    settings.TWILIO_API_BASE_URL = twilio_process.url
    return twilio_process


@pytest.fixture
def telnyx(telnyx_process, settings):
    telnyx_process.control.reset()
    settings.TELNYX_API_BASE_URL = telnyx_process.base_url
    return telnyx_process
