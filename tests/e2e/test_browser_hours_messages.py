"""Opening hours and the messages inbox in a real browser, on a desktop and on a phone
(issue 15): the owner sets weekly hours and a closed day; a simulated after-hours call (the
agent's own config fetch and its receptionist in livekit-agents' text mode, over real HTTP)
finds the clinic closed, takes a message and posts it (a retry is stored once), and the
inbox fills with it; the owner opens it and marks it handled. Chromium via Playwright
against the live server; every wait is on a condition."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from frontdesk.models import FrontDesk, Message
from telephony.agent_tokens import agent_token_create
from tenants.models import Clinic
from tests.e2e.test_browser import browser, field, sign_in, size, tour  # noqa: F401 (fixtures)
from tests.factories import UserFactory, make_clinic

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
ZONE = "America/New_York"
MESSAGE = {
    "caller_name": "Ana Lopez",
    "callback_number": "+14155550123",
    "reason": "Please move my cleaning to next week.",
    "urgency": "urgent",
}


def after_hours_call(base_url, token, clinic, room, key):
    """The agent's side of a call in `room`, in a thread of its own (Playwright's sync API
    owns this one's event loop): returns the config it answered with and what its poster
    answered for the message and for one retry with the same key."""
    pytest.importorskip("livekit.agents")
    import aiohttp
    from livekit.agents import AgentSession

    from agent import worker
    from agent.agents import Receptionist
    from agent.config import Settings
    from agent.messages import MessagePoster
    from agent.metadata import resolve_target
    from tests.agent.test_take_message import ScriptedLLM

    settings = Settings(
        switchboard_url=base_url,
        agent_token=token,
        livekit_url="ws://127.0.0.1:1",
        livekit_api_key="unused",
        livekit_api_secret="unused",
        config_deadline_s=10.0,
    )
    metadata = json.dumps({"clinic": str(clinic.pk), "line": "main", "config_version": 1})

    async def call():
        config = await worker.config_for_call(settings, resolve_target(metadata, room))
        async with aiohttp.ClientSession() as http:
            poster = MessagePoster(
                url=settings.messages_endpoint(),
                token=token,
                room=room,
                session=http,
                key_factory=lambda: key,
            )
            agent = Receptionist(config, poster)
            script = (("take_message", MESSAGE), "Your message is saved.")
            async with ScriptedLLM(*script) as model, AgentSession(llm=model) as session:
                await session.start(agent)
                await session.run(user_input="I'm Ana Lopez, please call me on +14155550123.")
            again = await poster.post(**MESSAGE)
        return config, [*agent.messages_posted, again]

    out = {}

    def run():
        out["result"] = asyncio.run(call())

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=60)
    assert "result" in out, "the agent's call did not finish"
    return out["result"]


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

    # A simulated after-hours call, on the agent's side over real HTTP: the worker's own
    # config fetch finds the clinic closed today, the receptionist runs in livekit-agents'
    # text mode (a scripted LLM), and its take_message tool posts to the platform.
    token = agent_token_create(name=f"browser-{tour.size}")[1]
    room = f"{clinic.room_prefix}_main_+14155550199_browserRoom1"
    config, posted = after_hours_call(live_server.url, token, clinic, room, f"browser-{tour.size}")
    assert config.call_time.open_now is False and config.call_time.opens_at > today
    # The first post stored it; the same key again (a retry after a lost answer) does not.
    assert posted == ["stored", "already_stored"]
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
