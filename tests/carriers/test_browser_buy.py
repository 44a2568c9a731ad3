"""Buying a number in a real browser (Chromium via Playwright) at desktop and phone sizes:
search the Telnyx emulator, read the cost sentence, confirm, and see the purchase bought;
then release it again after its own confirmation. The tasks are run in-process here (a real
worker runs them in tests/e2e/test_carrier_buy.py).
"""

from __future__ import annotations

from unittest import mock

import pytest
from playwright.sync_api import expect

from telephony import carrier_services as carriers
from telephony.models import NumberPurchase, NumberRelease, PhoneNumber
from telephony.purchase_runner import run_purchase
from telephony.release_runner import run_release
from tests.e2e.test_browser import browser, sign_in, size, tour  # noqa: F401
from tests.factories import UserFactory, make_clinic

from .conftest import TELNYX_KEY

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
WANTED = "+13125550150"


def test_search_confirm_and_buy(tour, telnyx, size):  # noqa: F811
    page = tour.page
    email = f"buy-{size}@brightsmile.example"
    owner = UserFactory(email=email)
    clinic = make_clinic(owner, "Bright Smile Dental")
    creds = carriers.parse_credentials(provider="telnyx", api_key=TELNYX_KEY)
    carriers.carrier_connect(clinic=clinic, creds=creds, actor=owner)
    sign_in(tour, email)
    tour.goto(f"/clinics/{clinic.slug}/setup/carrier/")
    page.get_by_role("link", name="Buy a new number").first.click()
    expect(page.locator("p", has_text="Nothing is bought until you confirm")).to_be_visible()
    page.get_by_label("Area code").fill("312")
    page.get_by_label("Contains").fill("0150")
    page.get_by_role("button", name="Search").click()
    expect(page.locator(f"[data-e164='{WANTED}']")).to_contain_text("1.00 USD a month")
    tour.check_fits_the_screen()
    page.get_by_role("link", name=f"Buy {WANTED}").click()
    expect(page.locator("#cost-sentence")).to_contain_text(
        "Telnyx charges your Telnyx account for this number every month"
    )
    tour.check_plain_words()
    tour.check_fits_the_screen()
    tour.shoot("26-carrier-buy")
    page.get_by_role("button", name="Buy this number").click()  # not ticked yet
    expect(page.locator(".purchase-confirm form")).to_contain_text(
        "Tick the box to confirm you accept the charge."
    )
    assert not NumberPurchase.objects.exists()
    page.get_by_label("I understand that my carrier charges my account").check()
    with mock.patch("telephony.number_purchases.publish_purchase"):
        page.get_by_role("button", name="Buy this number").click()
        expect(page.locator("body")).to_contain_text("this takes a few seconds")
    purchase = NumberPurchase.objects.get(clinic=clinic)
    for _ in range(3):
        run_purchase(purchase.pk)
    page.reload()
    expect(page.locator(f"[data-purchase='{purchase.pk}'] .badge")).to_have_text("Bought")
    tour.check_plain_words()
    tour.check_fits_the_screen()
    tour.check_offline_and_styled()
    assert PhoneNumber.objects.filter(clinic=clinic, e164=WANTED).exists()
    release_it(tour, telnyx, clinic)


def release_it(tour, telnyx, clinic):  # noqa: F811
    page = tour.page
    expect(page.locator(f"[data-bought='{WANTED}']")).to_be_visible()
    page.get_by_role("link", name=f"Release {WANTED}").click()
    expect(page.locator("#release-sentence")).to_contain_text("cannot be recovered")
    tour.check_plain_words()
    tour.check_fits_the_screen()
    page.get_by_role("button", name="Release this number").click()  # not ticked yet
    expect(page.locator(".purchase-confirm form")).to_contain_text("Tick the box")
    assert not NumberRelease.objects.exists()
    page.get_by_label("I understand that this number goes back to my carrier").check()
    with mock.patch("telephony.number_releases.publish_release"):
        page.get_by_role("button", name="Release this number").click()
        expect(page.locator("body")).to_contain_text("Releasing")
    release = NumberRelease.objects.get(clinic=clinic)
    assert not PhoneNumber.objects.filter(e164=WANTED).exists()
    assert run_release(release.pk).state == "released"
    page.reload()
    expect(page.locator(f"[data-release='{release.pk}'] .badge")).to_have_text("Released")
    expect(page.locator(f"[data-bought='{WANTED}']")).to_have_count(0)
    tour.check_plain_words()
    tour.check_fits_the_screen()
    numbers = {n["phone_number"] for n in telnyx.control.state()["numbers"]}
    assert WANTED not in numbers
