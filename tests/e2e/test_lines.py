"""Acceptance (issue 15): calls reach the receptionist each number is assigned to, with real
parts: a `celery worker` subprocess provisions the emulator over HTTP (livekit-api), the
platform is served by live_server, changes go through the REST API, the agent config API is
asked over HTTP with an agent token.

A clinic with three numbers and two receptionists: a simulated call to each number reaches a
room named for its line and dispatches the agent with that receptionist in its metadata; the
config API answers with that receptionist's settings. Then numbers move (from the first line
to another, between two numbered lines, back) and a receptionist is deleted, while a thread
places calls to every number without pause: no call is ever unrouted, and once the clinic has
converged the next call reaches the new line.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any
from urllib.parse import quote

import pytest
import requests

from emulators.livekit.testing import EmulatorControl
from telephony import services
from telephony.agent_tokens import agent_token_create
from telephony.models import Provisioning, Receptionist
from tests.api_helpers import user_token
from tests.e2e.conftest import wait_until
from tests.e2e.figures import assess, record
from tests.factories import UserFactory, make_clinic

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CALLER = "+14155559876"
N1, N2, N3 = "+14155550161", "+14155550162", "+14155550163"
NUMBERS = (N1, N2, N3)


def reached(livekit: EmulatorControl, clinic: Any, number: str) -> tuple[str, int] | None:
    """(line slug, receptionist id) a simulated call to `number` reaches; None: unrouted."""
    call = livekit.call(CALLER, number)
    if call["result"] != "dispatch":
        return None
    match = re.fullmatch(rf"{clinic.room_prefix}_([a-z0-9-]+)_\{CALLER}_\w+", call["room_name"])
    assert match, call["room_name"]
    (agent,) = call["agents"]
    meta = json.loads(agent["metadata"])
    assert meta["clinic"] == str(clinic.pk) and meta["line"] == match.group(1)
    return match.group(1), meta["receptionist"]


class Caller(threading.Thread):
    """Calls every number, one after the other, until stopped; keeps what each reached."""

    def __init__(self, livekit: EmulatorControl, clinic: Any) -> None:
        super().__init__(daemon=True)
        self.livekit, self.clinic = livekit, clinic
        self.seen: list[tuple[str, tuple[str, int] | None]] = []
        self.done = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.done.is_set():
                for number in NUMBERS:
                    self.seen.append((number, reached(self.livekit, self.clinic, number)))
        except BaseException as exc:  # reported by the test, not lost in the thread
            self.error = exc

    def stop(self) -> None:
        self.done.set()
        self.join(30)
        assert self.error is None, self.error

    def lines_of(self, number: str) -> list[str | None]:
        """The lines calls to `number` reached, in order, repeats folded."""
        out: list[str | None] = []
        for n, got in self.seen:
            line = got[0] if got else None
            if n == number and (not out or out[-1] != line):
                out.append(line)
        return out

    def calls(self, number: str | None = None) -> int:
        return sum(1 for n, _ in self.seen if number in (None, n))


def converged(clinic: Any) -> bool:
    prov = Provisioning.objects.get(clinic=clinic)
    assert prov.state != Provisioning.State.FAILED, prov.last_error
    return prov.state == Provisioning.State.ACTIVE and prov.converged


class Platform:
    """The REST API (owner token) and the agent config API (agent token) over HTTP."""

    def __init__(self, base: str, owner: Any, clinic: Any) -> None:
        self.base, self.clinic = f"{base}/api/v1", clinic
        self.api = requests.Session()
        self.api.headers["Authorization"] = f"Token {user_token(owner)}"
        self.agent = requests.Session()
        self.agent.headers["Authorization"] = f"Bearer {agent_token_create(name='e2e')[1]}"

    def call(self, method: str, tail: str, **kw: Any) -> Any:
        url = f"{self.base}/clinics/{self.clinic.slug}/{tail}"
        r = self.api.request(method, url, timeout=30, **kw)
        assert r.status_code < 300, (r.status_code, r.text)
        return r.json() if r.content else None

    def assign(self, number: str, receptionist: int) -> None:
        self.call("PATCH", f"numbers/{quote(number)}/", json={"receptionist": receptionist})

    def config(self, receptionist: int) -> dict[str, Any]:
        params = {"clinic": str(self.clinic.pk), "receptionist": receptionist}
        r = self.agent.get(f"{self.base}/agent/config", params=params, timeout=10)
        assert r.status_code == 200, r.text
        return dict(r.json())


@pytest.fixture
def clinic_of_two_lines(live_server, worker, livekit):
    owner = UserFactory()
    clinic = make_clinic(owner, "Sonrisa Dental")
    for number in NUMBERS:
        services.phone_number_add(clinic=clinic, number=number)
    platform = Platform(live_server.url, owner, clinic)
    spanish = platform.call(
        "POST",
        "receptionists/",
        json={"name": "Spanish line", "language": "es-ES", "greeting": "Hola, ¿en qué le ayudo?"},
    )
    platform.assign(N2, spanish["id"])
    services.clinic_go_live(clinic=clinic, actor=owner)  # the worker provisions it
    wait_until(lambda: converged(clinic), timeout=60)
    return clinic, platform, Receptionist.objects.first_of(clinic), spanish["id"]


def test_each_number_reaches_its_line_and_the_agent_gets_that_receptionists_settings(
    clinic_of_two_lines, livekit
):
    clinic, platform, main, spanish = clinic_of_two_lines
    got = {n: reached(livekit, clinic, n) for n in NUMBERS}
    assert got == {
        N1: ("main", main.pk),
        N2: ("spanish-line", spanish),
        N3: ("main", main.pk),
    }
    es = platform.config(spanish)
    assert (es["receptionist"], es["line"], es["language"]) == (spanish, "spanish-line", "es-ES")
    assert es["greeting"] == "Hola, ¿en qué le ayudo?"
    en = platform.config(main.pk)
    assert (en["receptionist"], en["line"], en["language"]) == (main.pk, "main", "en-US")


def test_numbers_move_and_receptionists_go_without_a_single_unrouted_call(
    clinic_of_two_lines, livekit
):
    clinic, platform, main, spanish = clinic_of_two_lines
    # No wait: the first move lands while the worker still runs for this change.
    billing = platform.call("POST", "receptionists/", json={"name": "Billing"})["id"]
    caller = Caller(livekit, clinic)
    caller.start()
    try:

        def settle() -> None:
            wait_until(lambda: converged(clinic), timeout=60)
            mark = caller.calls()
            wait_until(lambda: caller.calls() >= mark + 3 * len(NUMBERS), timeout=30)

        platform.assign(N3, spanish)  # the first line -> a numbered line
        settle()
        assert reached(livekit, clinic, N3) == ("spanish-line", spanish)
        platform.assign(N2, billing)  # between two numbered lines
        settle()
        assert reached(livekit, clinic, N2) == ("billing", billing)
        platform.assign(N3, main.pk)  # back to the first line
        settle()
        assert reached(livekit, clinic, N3) == ("main", main.pk)
        platform.call("DELETE", f"receptionists/{billing}/?move_to={spanish}")
        settle()
        assert reached(livekit, clinic, N2) == ("spanish-line", spanish)
    finally:
        caller.stop()

    assert caller.calls() >= 12 * len(NUMBERS)
    unrouted = [(n, got) for n, got in caller.seen if got is None]
    assert unrouted == [], f"{len(unrouted)} of {caller.calls()} calls unrouted"
    assert caller.lines_of(N1) == ["main"]
    # N2: Spanish, the trunk-wide line for the moment between two numbered lines (it may
    # fall between two calls), billing, then Spanish again after billing was deleted.
    assert caller.lines_of(N2) in (
        ["spanish-line", "main", "billing", "main", "spanish-line"],
        ["spanish-line", "billing", "main", "spanish-line"],
        ["spanish-line", "main", "billing", "spanish-line"],
        ["spanish-line", "billing", "spanish-line"],
    )
    assert caller.lines_of(N3) == ["main", "spanish-line", "main"]
    found = assess(livekit, [str(clinic.pk)])
    record("lines_moves", {**found, "calls": caller.calls(), "unrouted": len(unrouted)})
    assert (found["dup"], found["orphans"], found["stuck"], found["failed"]) == (0, 0, 0, 0)
    assert len(livekit.state()["dispatch_rules"]) == 2  # main's and Spanish's
