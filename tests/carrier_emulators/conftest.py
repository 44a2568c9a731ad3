"""Fixtures for the carrier emulator tests: no Django, real emulator subprocesses, and the
providers' own SDKs (``twilio``, ``telnyx``) pointed at them over real sockets."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest
import telnyx
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from emulators.telnyx.testing import TelnyxProcess
from emulators.twilio.testing import TwilioProcess

NUMBERS = ["+14155550100", "+14155550101", "+14155550102"]
KEY_SID = "SK" + "a" * 32
KEY_SECRET = "key-secret-for-tests"
RESTRICTED_SID = "SK" + "b" * 32


class EmulatorHttpClient(TwilioHttpClient):
    """Twilio's own HTTP client, sending what it would send to *.twilio.com to the emulator:
    the SDK builds every URL (and follows every page link) from Twilio's real hosts."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base = urlsplit(base_url)

    def request(self, method, url, *args, **kwargs):
        parts = urlsplit(url)
        if parts.hostname and parts.hostname.endswith(".twilio.com"):
            url = urlunsplit((self.base.scheme, self.base.netloc, parts.path, parts.query, ""))
        return super().request(method, url, *args, **kwargs)


@pytest.fixture(scope="session")
def twilio_emulator(tmp_path_factory) -> Iterator[TwilioProcess]:
    keys = [f"{KEY_SID}:{KEY_SECRET}", f"{RESTRICTED_SID}:{KEY_SECRET}:restricted"]
    with TwilioProcess(
        numbers=NUMBERS, api_keys=keys, log_dir=tmp_path_factory.mktemp("twilio")
    ) as emu:
        yield emu


@pytest.fixture
def twilio_emu(twilio_emulator):
    twilio_emulator.control.reset()
    return twilio_emulator


def twilio_client(emu, username=None, password=None) -> Client:
    return Client(
        username or emu.account_sid,
        password or emu.auth_token,
        account_sid=emu.account_sid,
        http_client=EmulatorHttpClient(emu.url),
    )


@pytest.fixture
def tw(twilio_emu) -> Client:
    return twilio_client(twilio_emu)


TELNYX_NUMBERS = ["+13125550100", "+13125550101", "+13125550102"]
TELNYX_KEY = "KEY0123456789ABCDEF_test"


@pytest.fixture(scope="session")
def telnyx_emulator(tmp_path_factory) -> Iterator[TelnyxProcess]:
    with TelnyxProcess(
        api_key=TELNYX_KEY, numbers=TELNYX_NUMBERS, log_dir=tmp_path_factory.mktemp("telnyx")
    ) as emu:
        yield emu


@pytest.fixture
def telnyx_emu(telnyx_emulator):
    telnyx_emulator.control.reset()
    return telnyx_emulator


def telnyx_client(emu, api_key=None, max_retries=0) -> telnyx.Telnyx:
    return telnyx.Telnyx(
        api_key=api_key or emu.telnyx_api_key, base_url=emu.base_url, max_retries=max_retries
    )


@pytest.fixture
def tx(telnyx_emu) -> telnyx.Telnyx:
    return telnyx_client(telnyx_emu)
