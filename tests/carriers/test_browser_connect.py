"""Connecting Twilio in a real browser (Chromium via Playwright) at desktop and phone sizes:
a wrong token refused in words, the right one accepted, two of the account's numbers ticked.
The app runs on loopback (live_server); the Twilio emulator is a real process over HTTP."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from telephony.models import CarrierAccount, PhoneNumber
from tests.e2e.test_browser import browser, field, sign_in, size, tour  # noqa: F401
from tests.factories import UserFactory, make_clinic

from .conftest import NUMBERS

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_connect_twilio_and_tick_numbers(tour, twilio, size):  # noqa: F811
    page = tour.page
    email = f"carrier-{size}@brightsmile.example"
    clinic = make_clinic(UserFactory(email=email), "Bright Smile Dental")
    sign_in(tour, email)
    tour.goto(f"/clinics/{clinic.slug}/setup/carrier/")
    expect(page.get_by_role("link", name="I'll configure my carrier myself")).to_be_visible()
    tour.check_plain_words()

    page.locator("#connect-twilio > summary").click()
    field(page, "Account SID").fill(twilio.account_sid)
    field(page, "Auth token").fill("not-the-right-token")
    page.get_by_role("button", name="Connect Twilio").click()
    expect(page.locator("#id_twilio-auth_token_error")).to_contain_text(
        "Twilio rejected these credentials"
    )
    expect(field(page, "Auth token")).to_have_value("")  # never rendered back
    expect(field(page, "Account SID")).to_have_value(twilio.account_sid)
    tour.check_fits_the_screen()

    field(page, "Auth token").fill(twilio.auth_token)
    page.get_by_role("button", name="Connect Twilio").click()
    expect(page.get_by_text("Connected to Twilio")).to_be_visible()
    assert twilio.auth_token not in page.content()
    page.get_by_label(NUMBERS[0]).check()
    page.get_by_label(NUMBERS[1]).check()
    tour.shoot("20-carrier-connect")
    page.get_by_role("button", name="Answer the ticked numbers").click()
    expect(page.get_by_text(f"Added {NUMBERS[0]}, {NUMBERS[1]}.")).to_be_visible()
    expect(page.get_by_text("Answered by your receptionist")).to_have_count(2)
    tour.check_plain_words()
    tour.check_fits_the_screen()
    tour.check_offline_and_styled()
    assert CarrierAccount.objects.get(clinic=clinic).provider == "twilio"
    assert (
        sorted(PhoneNumber.objects.filter(clinic=clinic).values_list("e164", flat=True))
        == (NUMBERS[:2])
    )
