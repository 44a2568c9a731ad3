"""A clinic's admin connects the clinic's own LiveKit project in a real browser, on a
desktop and on a phone (decision 0132): from the dashboard's Advanced section to the page,
a wrong secret and an unreachable server refused in a sentence on their field with nothing
saved, then the right values checked with one read call to a fourth emulator over HTTP and
the phone line moving in. The secrets are never shown back. Every wait is on a condition."""

# ruff: noqa: F811 (the fixtures imported below are arguments of the tests)
from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from emulators.livekit.testing import EmulatorProcess
from telephony.models import LiveKitProject, ProjectMove
from telephony.moves import open_move
from tests.e2e.conftest import wait_until
from tests.e2e.test_browser import browser, field, sign_in, size, tour  # noqa: F401 (fixtures)
from tests.e2e.test_projects_e2e import (  # noqa: F401 (fixtures)
    go_live,
    settled,
    three_projects,
    worker,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
OWN_KEY, OWN_SECRET = "ownkey", "secret-of-the-clinics-own-project-4567"
WRONG_SECRET = "wrong-secret-0123456789abcdef-0123456789"
SAVED = (
    "Your project answered and is saved. Your phone line moves into it now, without "
    "dropping calls; the dashboard shows each step."
)


@pytest.fixture(scope="module")
def own() -> Iterator[EmulatorProcess]:
    proc = EmulatorProcess(api_key=OWN_KEY, api_secret=OWN_SECRET)
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


def fill(page, own: EmulatorProcess, *, url: str, secret: str) -> None:
    field(page, "Server URL").fill(url)
    field(page, "API key").fill(OWN_KEY)
    field(page, "API secret").fill(secret)
    field(page, "SIP URI").fill("sip:own.sip.example")
    page.get_by_role("button", name="Check and connect").click()


def no_secret_shown(page) -> None:
    html = page.content()
    assert OWN_SECRET not in html and WRONG_SECRET not in html
    expect(field(page, "API secret")).to_have_value("")


def test_the_admin_connects_the_clinics_own_project(tour, emulators, projects, worker, own, size):
    number = "+15185550821" if size == "desktop" else "+15185550822"
    clinic = go_live(f"Group Dental {size}", number, projects["a"])
    wait_until(lambda: settled(clinic), timeout=60)
    clinic.may_bring_livekit_project = True
    clinic.save(update_fields=["may_bring_livekit_project"])
    own.control.reset()
    page = tour.page
    sign_in(tour, clinic.memberships.get().user.email)

    tour.goto(f"/clinics/{clinic.slug}/")
    page.locator("#status-card details.advanced summary").click()
    page.locator("#own-project-link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your own LiveKit project")
    expect(page.locator("#own-project-state")).to_contain_text("No project of your own")
    tour.check_fits_the_screen()

    fill(page, own, url=own.url.replace("http://", "ws://"), secret=WRONG_SECRET)
    secret_box = page.locator(".field--invalid", has=field(page, "API secret"))
    expect(secret_box).to_contain_text("refused this API key")
    no_secret_shown(page)
    tour.check_fits_the_screen()

    fill(page, own, url="http://127.0.0.1:1", secret=OWN_SECRET)
    url_box = page.locator(".field--invalid", has=field(page, "Server URL"))
    expect(url_box).to_contain_text("Could not reach http://127.0.0.1:1")
    no_secret_shown(page)
    assert not LiveKitProject.objects.filter(owner_clinic=clinic).exists()
    assert open_move(clinic) is None

    fill(page, own, url=own.url.replace("http://", "ws://"), secret=OWN_SECRET)
    expect(page.locator(".messages")).to_contain_text(SAVED)
    expect(page.locator("#own-project-state")).to_contain_text(
        "Your phone line is moving into your project. Calls keep being answered"
    )
    expect(page.get_by_role("heading", name="Your project's details")).to_be_visible()
    expect(field(page, "Server URL")).to_have_value(own.url)  # stored as http(s)://
    expect(field(page, "API key")).to_have_value(OWN_KEY)
    no_secret_shown(page)
    tour.check_fits_the_screen()
    tour.check_offline_and_styled()

    mine = LiveKitProject.objects.get(owner_clinic=clinic)
    move = open_move(clinic)
    assert move is not None and move.target_id == mine.pk
    assert move.state in ProjectMove.OPEN
    assert own.control.requests(), "the credentials were checked with the emulator"

    tour.goto(f"/clinics/{clinic.slug}/")  # the dashboard's move card, as the message says
    expect(page.locator("#move-card")).to_be_visible()
    assert OWN_SECRET not in page.content()
