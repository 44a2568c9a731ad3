"""Opening hours and the messages inbox in a real browser, on a desktop and on a phone
(issue 15): the owner sets weekly hours and a closed day, the agent config API then says the
clinic is closed, the agent posts a message after hours (and retries it), and the inbox fills
with it; the owner opens it and marks it handled. Chromium via Playwright against the live
server; every wait is on a condition."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import requests
from playwright.sync_api import expect

from frontdesk.models import FrontDesk, Message
from telephony.agent_tokens import agent_token_create
from tenants.models import Clinic
from tests.e2e.test_browser import browser, field, sign_in, size, tour  # noqa: F401 (fixtures)
from tests.factories import UserFactory, make_clinic

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
ZONE = "America/New_York"


def test_an_owner_sets_hours_and_a_holiday_and_the_inbox_fills_after_hours(tour, live_server):  # noqa: F811
    page = tour.page
    user = UserFactory(email=f"hours-{tour.size}@clinic.example")
    clinic = make_clinic(user, f"Hours Dental {tour.size}")
    Clinic.objects.filter(pk=clinic.pk).update(state=Clinic.State.LIVE)
    today = datetime.now(ZoneInfo(ZONE)).date().isoformat()
    sign_in(tour, user.email)

    tour.goto(f"/clinics/{clinic.slug}/")
    page.get_by_role("link", name="Settings", exact=True).click()
    page.get_by_role("link", name="Opening hours").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Opening hours")
    field(page, "Time zone").select_option(ZONE)
    # An inverted day is refused next to its field, and nothing is saved.
    page.get_by_label("Monday opens", exact=True).fill("17:00")
    page.get_by_label("Monday closes", exact=True).fill("09:00")
    page.get_by_role("button", name="Save opening hours").click()
    expect(page.locator("#weekly-hours")).to_contain_text("must be after the opening time")
    assert not FrontDesk.objects.filter(clinic=clinic).exists()
    for day in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday"):
        page.get_by_label(f"{day} opens", exact=True).fill("09:00")
        page.get_by_label(f"{day} closes", exact=True).fill("17:00")
    field(page, "Days you are closed (holidays, closures)").fill(
        f"{today} Staff training day\n2026-12-25 Christmas Day"
    )
    page.get_by_role("button", name="Save opening hours").click()
    expect(page.get_by_role("status")).to_contain_text("Opening hours saved")
    desk = FrontDesk.objects.get(clinic=clinic)
    assert len(desk.weekly) == 5 and desk.closures[0] == {
        "date": min(today, "2026-12-25"),
        "reason": "Staff training day" if today < "2026-12-25" else "Christmas Day",
    }
    tour.check_fits_the_screen()
    tour.check_plain_words()
    tour.shoot("22-opening-hours")

    # The agent's side, over real HTTP: closed today, so the message is taken after hours.
    token = agent_token_create(name=f"browser-{tour.size}")[1]
    agent = requests.Session()
    agent.headers["Authorization"] = f"Bearer {token}"
    config = agent.get(
        f"{live_server.url}/api/v1/agent/config", params={"clinic": str(clinic.pk)}, timeout=30
    ).json()
    assert config["open_now"] is False and config["opens_at"] > today
    message = {
        "room": f"{clinic.room_prefix}_+14155550199_browserRoom1",
        "caller_name": "Ana Lopez",
        "callback_number": "+14155550123",
        "reason": "Please move my cleaning to next week.",
        "urgency": "urgent",
    }
    url = f"{live_server.url}/api/v1/agent/messages"
    headers = {"Idempotency-Key": f"browser-{tour.size}-1"}
    first = agent.post(url, json=message, headers=headers, timeout=30)
    retry = agent.post(url, json=message, headers=headers, timeout=30)
    assert (first.status_code, retry.status_code) == (201, 200)
    assert Message.objects.filter(clinic=clinic).count() == 1

    tour.goto(f"/clinics/{clinic.slug}/")
    page.get_by_role("link", name="Messages", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Messages")
    inbox = page.locator("#messages")
    expect(inbox).to_contain_text("Ana Lopez")
    expect(inbox).to_contain_text("***0199")
    expect(inbox).to_contain_text("Urgent")
    expect(inbox).not_to_contain_text("+14155550199")
    expect(page.get_by_role("link", name="New (1)")).to_be_visible()
    tour.check_fits_the_screen()
    tour.check_plain_words()
    tour.shoot("23-messages")

    inbox.get_by_role("link").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Urgent message from Ana Lopez")
    expect(page.locator("#message-callback")).to_have_text("+14155550123")
    page.get_by_role("button", name="Mark as handled").click()
    expect(page.get_by_role("status")).to_contain_text("Marked as handled.")
    expect(page.locator("#no-messages")).to_have_text("No new messages.")
    page.get_by_role("link", name="Handled").click()
    expect(page.locator("#messages")).to_contain_text(f"Handled by {user.email}")
    tour.check_fits_the_screen()
    tour.check_offline_and_styled()
