"""Password reset in a real browser (Chromium, the app on loopback): forgot the password,
ask for a link, follow it from the email, choose a new one, sign in with it; the used link
then says it no longer works, in plain words."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from tests.e2e import test_browser as tour_module
from tests.e2e.test_browser import field, open_tour
from tests.factories import UserFactory

# The tour's fixtures (Chromium, the screen sizes, a tab on the live server), used by name.
browser = tour_module.browser
size = tour_module.size
tour = tour_module.tour

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

NEW_PASSWORD = "Another-l0ng-passphrase"


def test_a_forgotten_password_is_reset_from_the_emailed_link(tour, browser, live_server, size):
    user = UserFactory(email=f"forgot-{size}@clinic.example")
    page = tour.page
    tour.goto("/login/")
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Reset your password")
    field(page, "Email").fill(user.email)
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    expect(page.locator("main")).to_contain_text("If an account uses that address")
    tour.check_offline_and_styled()
    tour.check_fits_the_screen()

    (message,) = [m for m in mail.outbox if user.email in m.to]
    link = re.search(r"https?://\S+(/password-reset/\S+/\S+/)", message.body)
    assert link, message.body
    tour.goto(link.group(1))
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose a new password")
    assert "set-password" in page.url  # the token left the address bar
    field(page, "New password").fill(NEW_PASSWORD)
    field(page, "New password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Save the new password").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Password changed")
    page.get_by_role("link", name="Sign in").last.click()

    field(page, "Email").fill(user.email)
    field(page, "Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).not_to_have_text("Sign in")

    # The same link again, in another browser: it worked once, and says so.
    context, other = open_tour(browser, live_server, size)
    try:
        other.goto(link.group(1))
        expect(other.page.get_by_role("heading", level=1)).to_have_text("This link no longer works")
        expect(other.page.get_by_role("link", name="Ask for a new link")).to_be_visible()
    finally:
        context.close()
