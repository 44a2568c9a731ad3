"""A clinic's admin confirms a move of their phone line in a real browser, on a desktop and
on a phone (decision 0131): the clinic is live in project a (the default), a move to
project-b has set it up and tested it there, and its carrier is configured by hand. The
dashboard tells the admin what to do and the new address; the button confirms; the worker
then makes a last test call in b and removes the clinic from a. Every wait is on a
condition."""

# ruff: noqa: F811 (the fixtures imported below are arguments of the tests)
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections
from playwright.sync_api import expect

from telephony.carrier_services import carrier_confirm_by_hand
from telephony.models import ProjectMove
from telephony.move_status import FINISHED, clinic_confirms_carrier
from telephony.moves import advance, start_move
from telephony.validators import display_number
from tests.e2e.conftest import wait_until
from tests.e2e.test_browser import browser, sign_in, size, tour  # noqa: F401 (fixtures)
from tests.e2e.test_projects_e2e import (  # noqa: F401 (fixtures)
    go_live,
    held_numbers,
    settled,
    three_projects,
    worker,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WORDS = (
    "Action needed: your phone line is moving",
    "Your phone line is moving to a new server, and it passed its test call. Now ask "
    "whoever manages your phone lines to send calls for {number} to the new address below. "
    "Your receptionist keeps answering at the old address until then. Once it is done, "
    "press the button to tell us.",
)


def test_the_admin_is_told_the_new_address_and_confirms_the_move(
    tour,
    emulators,
    projects,
    worker,
    size,
):
    number = "+15185550801" if size == "desktop" else "+15185550802"
    clinic = go_live(f"Moving Dental {size}", number, projects["a"])
    carrier_confirm_by_hand(clinic=clinic, confirmed=True)  # "I've configured my carrier"
    wait_until(lambda: settled(clinic), timeout=60)
    move = start_move(clinic, projects["b"])
    # The operator's steps (the sweeper's in production), in a thread of their own: this
    # one runs Playwright's event loop, and the test call runs one of its own.
    with ThreadPoolExecutor(1) as operator:

        def step() -> str:
            state = operator.submit(lambda: advance(move).state).result()
            connections.close_all()
            return state

        wait_until(lambda: step() == ProjectMove.State.AWAITING_CARRIER, timeout=60)
    owner = clinic.memberships.get().user
    page = tour.page
    sign_in(tour, owner.email)

    tour.goto(f"/clinics/{clinic.slug}/")
    card = page.locator("#move-card")
    expect(card.get_by_role("heading", level=2)).to_have_text(WORDS[0])
    expect(card.locator("[data-field=move_sentence]")).to_have_text(
        WORDS[1].format(number=display_number(number))
    )
    expect(card.locator("#cv-move-sip-uri")).to_have_text("sip:b.sip.example")
    expect(card).to_contain_text(projects["a"].effective_sip_uri)
    expect(card).to_contain_text(number)
    button = card.get_by_role("button", name="My carrier now sends calls to the new address")
    expect(button).to_be_visible()
    tour.check_fits_the_screen()
    tour.check_plain_words()
    tour.check_offline_and_styled()
    tour.shoot("24-move-confirm")

    button.click()
    expect(page.locator(".messages")).to_contain_text(
        "Thanks. We are making a last test call at the new address, then removing the old one."
    )
    # The worker takes the next step: the last test call in b, then a holds nothing.
    wait_until(
        lambda: ProjectMove.objects.get(pk=move.pk).state == ProjectMove.State.DONE, timeout=60
    )
    assert held_numbers(emulators["a"]) == [] and held_numbers(emulators["b"]) == [number]
    tour.goto(f"/clinics/{clinic.slug}/")
    expect(page.locator("#move-card")).to_have_count(0)
    tour.check_plain_words()


def test_the_card_follows_the_move_without_a_reload(tour, emulators, projects, worker, size):
    """The dashboard is opened while the move is set up in b; the card then changes as the
    move advances (from the status JSON the page polls) to "Action needed" with the new
    address and the button, and after the confirmation (given here, not by a click, which
    would load the page) to "has moved" once the worker is done, all on the same page."""
    number = "+15185550811" if size == "desktop" else "+15185550812"
    clinic = go_live(f"Watched Dental {size}", number, projects["a"])
    carrier_confirm_by_hand(clinic=clinic, confirmed=True)
    wait_until(lambda: settled(clinic), timeout=60)
    move = start_move(clinic, projects["b"])
    page = tour.page
    sign_in(tour, clinic.memberships.get().user.email)
    tour.goto(f"/clinics/{clinic.slug}/")
    page.evaluate("window.sameDashboard = true")  # gone if the page is loaded again
    card = page.locator("#move-card")
    heading = card.get_by_role("heading", level=2)
    button = card.get_by_role("button", name="My carrier now sends calls to the new address")
    expect(heading).to_have_text("Your phone line is moving")
    expect(card.locator("[data-field=move_sentence]")).to_contain_text("Nothing to do yet.")
    expect(button).to_be_hidden()
    expect(card).to_have_attribute("data-move-state", ProjectMove.State.PROVISIONING)

    with ThreadPoolExecutor(1) as operator:

        def step() -> str:
            state = operator.submit(lambda: advance(move).state).result()
            connections.close_all()
            return state

        wait_until(lambda: step() == ProjectMove.State.AWAITING_CARRIER, timeout=60)
        expect(heading).to_have_text(WORDS[0], timeout=20_000)
        expect(card.locator("[data-field=move_sentence]")).to_have_text(
            WORDS[1].format(number=display_number(number))
        )
        expect(card.locator("#cv-move-sip-uri")).to_have_text("sip:b.sip.example")
        expect(card.locator("[data-field=move_numbers]")).to_have_text(number)
        expect(button).to_be_visible()
        tour.check_fits_the_screen()
        tour.check_plain_words()

        def confirm() -> None:
            clinic_confirms_carrier(clinic=clinic, actor=None)  # the worker takes it on
            connections.close_all()

        operator.submit(confirm).result()
    # The JSON is polled every 10 s while the move waits for the clinic, then every 3 s.
    heading_done, sentence_done = FINISHED[ProjectMove.State.DONE]
    expect(heading).to_have_text(heading_done, timeout=60_000)
    expect(card.locator("[data-field=move_sentence]")).to_have_text(sentence_done)
    expect(button).to_be_hidden()
    expect(card).to_have_attribute("data-move-state", ProjectMove.State.DONE)
    assert ProjectMove.objects.get(pk=move.pk).state == ProjectMove.State.DONE
    assert held_numbers(emulators["a"]) == [] and held_numbers(emulators["b"]) == [number]
    assert page.evaluate("window.sameDashboard === true")  # never reloaded
    tour.check_plain_words()
