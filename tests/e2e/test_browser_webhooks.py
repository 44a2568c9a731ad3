"""Settings → Webhooks in a real browser, as a clinic owner at phone size and on a desktop:
add an address, copy the secret key shown once, send a test to a real receiver process that
verifies every request with the `standardwebhooks` package (delivered by a real worker),
read the log, get a new secret key, turn the address off. Every page in plain words, fitting
the screen, offline and within its Content-Security-Policy."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from emulators.webhook_receiver.testing import ReceiverProcess
from tenants.models import Clinic
from tests.e2e import test_browser as tour_module
from tests.e2e.conftest import Worker, wait_until
from tests.e2e.test_browser import Tour, field, sign_in
from tests.e2e.test_webhooks import hook_worker
from tests.factories import UserFactory, make_clinic
from webhooks.models import WebhookDelivery, WebhookEndpoint

# The tour's fixtures (Chromium, the screen sizes, a tab on the live server), used by name.
browser = tour_module.browser
size = tour_module.size
tour = tour_module.tour

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
SECRET_RE = re.compile(r"^whsec_[A-Za-z0-9+/=]{30,}$")


@pytest.fixture
def hooks(settings, emulator) -> Iterator[Worker]:
    settings.WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS = True  # the receiver is on loopback
    with hook_worker(emulator.url) as w:
        yield w


@pytest.fixture
def receiver(tmp_path) -> Iterator[ReceiverProcess]:
    with ReceiverProcess(state=tmp_path / "receiver.json") as r:
        yield r


def check_page(tour: Tour) -> None:
    tour.check_offline_and_styled()
    tour.check_plain_words()
    tour.check_fits_the_screen()


def shown_secret(page: Page) -> str:
    box = page.locator("#webhook-secret")
    expect(box).to_contain_text("shown only this once")
    secret = page.locator("#secret-value").inner_text().strip()
    assert SECRET_RE.match(secret), secret
    return secret


def delivered(receiver: ReceiverProcess, n: int) -> list[dict[str, Any]]:
    accepted = [a for a in receiver.log()["accepted"] if a["type"] == "webhook.test"]
    return accepted if len(accepted) >= n else []


def test_an_owner_connects_tests_rotates_and_turns_off_an_address(tour, hooks, receiver, size):
    owner = UserFactory(email=f"hooks-{size}@clinic.example")
    clinic = make_clinic(owner, "Bright Smile Dental")
    # A clinic already taking calls (settings after go-live hold the Webhooks link).
    Clinic.objects.filter(pk=clinic.pk).update(state=Clinic.State.LIVE)
    sign_in(tour, owner.email)
    page = tour.page

    # Settings → Webhooks, from the settings menu.
    tour.goto(f"/clinics/{clinic.slug}/settings/")
    page.get_by_role("link", name="Webhooks").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Webhooks")
    expect(page.locator("main")).to_contain_text("Nothing is sent yet")
    check_page(tour)

    # Add an address: a clear message names the field when it is missing.
    page.get_by_role("button", name="Add address").click()
    expect(page.locator("#id_url_error")).to_contain_text("Enter the address to send to")
    expect(page.locator("#id_events_error")).to_contain_text("Choose at least one")
    field(page, "Address (URL)").fill(f"{receiver.url}/hooks")
    page.get_by_label("A call ended, with what came of it").check()
    page.get_by_role("button", name="Add address").click()
    secret = shown_secret(page)
    receiver.set_secrets(secret)
    endpoint = WebhookEndpoint.objects.get(clinic=clinic)
    assert endpoint.secret == secret
    expect(page.locator("#endpoints")).to_contain_text("A call ended, with what came of it")
    tour.shoot("40-webhooks-added")
    check_page(tour)

    # The secret key is shown once: not on the address's own page.
    page.get_by_role("link", name=f"{receiver.url}/hooks").click()
    expect(page.locator("#webhook-secret")).to_have_count(0)
    assert secret not in page.content()
    expect(page.locator("main")).to_contain_text("Nothing sent yet")
    check_page(tour)

    # Send a test: the worker delivers it, the receiver verifies the signature.
    page.get_by_role("button", name="Send a test").click()
    expect(page.locator(".messages")).to_contain_text("Test sent")
    (first,) = wait_until(lambda: delivered(receiver, 1), timeout=60)
    assert receiver.log()["rejected"] == []
    wait_until(lambda: WebhookDelivery.objects.filter(status="succeeded").exists(), timeout=30)
    page.reload()
    log = page.locator("#deliveries")
    expect(log).to_contain_text("Test")
    expect(log).to_contain_text("Delivered")
    expect(log).to_contain_text("Received (HTTP 200)")
    expect(log).to_contain_text(first["id"])
    tour.shoot("41-webhooks-log")
    check_page(tour)

    # A new secret key: shown once; the receiver that knows only the new one still verifies.
    page.get_by_role("button", name="Get a new secret key").click()
    new = shown_secret(page)
    assert new != secret
    expect(page.locator("main")).to_contain_text("The previous secret key keeps working until")
    check_page(tour)
    receiver.set_secrets(new)
    page.get_by_role("button", name="Send a test").click()
    wait_until(lambda: delivered(receiver, 2), timeout=60)
    assert receiver.log()["rejected"] == []

    # Turn it off: said plainly, and a test is refused with the reason next to it.
    page.get_by_label("Send events to this address").uncheck()
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#endpoint-off")).to_contain_text("Nothing is lost")
    page.get_by_role("button", name="Send a test").click()
    expect(page.locator(".messages")).to_contain_text("turn it on before sending a test")
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    check_page(tour)
    tour.goto(f"/clinics/{clinic.slug}/webhooks/")
    expect(page.locator("#endpoints")).to_contain_text("Off")
