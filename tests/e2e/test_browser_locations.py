"""Locations in a real browser, on a desktop and on a phone (issue 15): the owner adds a
second site, gets a clear error for inverted hours (nothing saved), gives its address, its
own hours on Pacific time and a closed day, and ticks the receptionist that answers for it;
the receptionists page names the location, and the agent config API then answers that
receptionist with the location's address and hours. Chromium via Playwright against the
live server; every wait is on a condition."""

from __future__ import annotations

import pytest
import requests
from playwright.sync_api import expect

from frontdesk.models import Location
from telephony.agent_tokens import agent_token_create
from telephony.models import Receptionist
from telephony.receptionists import receptionist_create
from tenants.models import Clinic
from tests.e2e.test_browser import browser, field, sign_in, size, tour  # noqa: F401 (fixtures)
from tests.factories import UserFactory, make_clinic

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
ADDRESS = "400 Market Street, San Francisco"


def test_an_owner_adds_a_location_with_its_own_hours_and_a_line_answers_for_it(tour, live_server):  # noqa: F811
    page = tour.page
    user = UserFactory(email=f"locations-{tour.size}@clinic.example")
    clinic = make_clinic(user, f"Two Sites Dental {tour.size}")
    Clinic.objects.filter(pk=clinic.pk).update(state=Clinic.State.LIVE)
    line = receptionist_create(clinic=clinic, name="Downtown line")
    sign_in(tour, user.email)

    tour.goto(f"/clinics/{clinic.slug}/")
    page.get_by_role("link", name="Settings", exact=True).click()
    page.get_by_role("link", name="Locations").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Locations")
    field(page, "Name of the location").fill("Downtown")
    page.get_by_role("button", name="Add the location").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Downtown")
    location = Location.objects.get(clinic=clinic)

    field(page, "Address").fill(ADDRESS)
    page.get_by_label("Downtown line").check()
    page.get_by_label("This location has its own opening hours").check()
    field(page, "Time zone").select_option("America/Los_Angeles")
    page.get_by_label("Monday opens", exact=True).fill("20:00")
    page.get_by_label("Monday closes", exact=True).fill("12:00")
    page.get_by_role("button", name="Save Downtown").click()
    expect(page.locator("#weekly-hours")).to_contain_text("must be after the opening time")
    location.refresh_from_db()
    assert not location.own_hours and location.address == ""
    assert Receptionist.objects.get(pk=line.pk).location_id is None

    for day in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday"):
        page.get_by_label(f"{day} opens", exact=True).fill("12:00")
        page.get_by_label(f"{day} closes", exact=True).fill("20:00")
    field(page, "Days this location is closed (holidays, closures)").fill("2026-12-31 Stocktaking")
    page.get_by_role("button", name="Save Downtown").click()
    expect(page.get_by_role("status")).to_contain_text("Saved Downtown")
    location.refresh_from_db()
    assert location.own_hours and location.timezone == "America/Los_Angeles"
    assert len(location.weekly) == 5 and location.address == ADDRESS
    assert Receptionist.objects.get(pk=line.pk).location_id == location.pk
    tour.check_fits_the_screen()
    tour.check_plain_words()
    tour.shoot("25-location")

    page.get_by_role("link", name="All locations").click()
    listing = page.locator("#locations")
    expect(listing).to_contain_text("Its own opening hours")
    expect(listing).to_contain_text("Answered by Downtown line")
    tour.check_fits_the_screen()
    tour.check_plain_words()
    page.get_by_role("link", name="Receptionists").click()
    expect(page.locator(f'[data-receptionist="{line.pk}"]')).to_contain_text("answers for Downtown")

    # The agent's side, over real HTTP: the Downtown line answers with Downtown's facts.
    token = agent_token_create(name=f"browser-loc-{tour.size}")[1]
    config = requests.get(
        f"{live_server.url}/api/v1/agent/config",
        params={"clinic": str(clinic.pk), "receptionist": str(line.pk)},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    ).json()
    assert config["location"]["name"] == "Downtown"
    assert config["knowledge"]["address"] == ADDRESS
    assert config["timezone"] == "America/Los_Angeles"
    assert config["hours"]["weekly"][0] == {"day": 0, "opens": "12:00", "closes": "20:00"}
    tour.check_offline_and_styled()
