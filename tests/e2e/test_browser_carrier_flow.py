"""The whole carrier flow in a real browser (Chromium via Playwright), at desktop and phone
sizes (issue 14's acceptance): connect Twilio, pick two of the account's numbers, go live,
see the carrier set up, place a test call. The app on loopback (live_server), a real celery
worker, PostgreSQL and Redis, and three emulators over HTTP: LiveKit (its webhooks signed
to the app), Twilio and Telnyx."""

# ruff: noqa: F811 (pytest fixtures imported from test_browser are parameters here)
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from emulators.livekit.testing import EmulatorProcess
from telephony.models import CarrierAccount, Provisioning
from tests.e2e.conftest import (
    CARRIER_SIP_URI,
    TWILIO_NUMBERS,
    Worker,
    carrier_env,
    worker_on_own_queue,
)
from tests.e2e.test_browser import (  # noqa: F401 (fixtures)
    WAIT_MS,
    browser,
    call_livekit,
    field,
    sign_in,
    size,
    tour,
)
from tests.factories import UserFactory, make_clinic

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def flow_worker(
    transactional_db: None,
    call_livekit: EmulatorProcess,
    carriers: Any,
) -> Iterator[Worker]:
    """A worker that talks to the webhook-sending LiveKit emulator and both carriers."""
    with worker_on_own_queue(call_livekit.url, "flow", carrier_env(carriers)) as w:
        yield w


def test_connect_twilio_pick_numbers_go_live_and_test_call(
    tour,
    call_livekit,
    carriers,
    flow_worker,
    size,
):
    twilio, _telnyx = carriers
    page = tour.page
    email = f"flow-{size}@brightsmile.example"
    clinic = make_clinic(UserFactory(email=email), "Bright Smile Dental")
    sign_in(tour, email)

    # The carrier step: connect Twilio with the account SID and auth token.
    tour.goto(f"/clinics/{clinic.slug}/setup/carrier/")
    page.locator("#connect-twilio > summary").click()
    field(page, "Account SID").fill(twilio.account_sid)
    field(page, "Auth token").fill(twilio.auth_token)
    page.get_by_role("button", name="Connect Twilio").click()
    expect(page.get_by_text("Connected to Twilio")).to_be_visible()
    assert twilio.auth_token not in page.content()

    # Pick two of the account's numbers.
    page.get_by_label(TWILIO_NUMBERS[0]).check()
    page.get_by_label(TWILIO_NUMBERS[1]).check()
    page.get_by_role("button", name="Answer the ticked numbers").click()
    expect(page.get_by_text("Answered by your receptionist")).to_have_count(2)
    tour.check_plain_words()
    tour.check_fits_the_screen()

    # Review and go live.
    tour.goto(f"/clinics/{clinic.slug}/setup/review/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Review and go live")
    tour.check_plain_words()
    page.get_by_role("button", name="Go live").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Bright Smile Dental")
    status = page.locator("#status-card [data-field=state_label]")
    expect(status).to_have_text("Active", timeout=WAIT_MS)

    # The carrier side, set up by Switchboard: no "waiting for your carrier", answering.
    carrier_card = page.locator("#carrier-card")
    expect(carrier_card).to_contain_text("Connected", timeout=WAIT_MS)
    expect(page.locator('#prov-steps [data-step="carrier"]')).not_to_contain_text("Waiting")
    expect(page.locator('#go-live-checklist [data-check="carrier_connected"]')).to_contain_text(
        "Done"
    )
    expect(page.get_by_text("Waiting for your carrier")).to_have_count(0)
    expect(carrier_card).to_contain_text("there is nothing for you to set up there")
    expect(carrier_card).not_to_contain_text("once your carrier sends them")
    tour.check_plain_words()

    # At Twilio: one trunk, one origination URL to the clinic's SIP URI, both numbers.
    (trunk,) = twilio.control.state()["trunks"]
    (url,) = trunk["origination_urls"]
    host = CARRIER_SIP_URI.removeprefix("sip:")
    assert url["sip_url"] == f"sip:{host};transport=tcp"
    assert sorted(trunk["phone_numbers"]) == TWILIO_NUMBERS[:2]
    prov = Provisioning.objects.get(clinic=clinic)
    assert prov.carrier_trunk_id == trunk["sid"]
    assert CarrierAccount.objects.get(clinic=clinic).state == "connected"
    (lk_trunk,) = call_livekit.control.state()["inbound_trunks"]
    assert sorted(lk_trunk["numbers"]) == TWILIO_NUMBERS[:2]

    # A test call to one of the numbers reaches the receptionist.
    page.get_by_role("link", name="Test call…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Test call")
    field(page, "Call from").fill("+1 415 555 9876")
    page.get_by_role("button", name="Run test call").click()
    result = page.get_by_role("region", name="Test call passed")
    expect(result).to_be_visible()
    sentences = result.locator(".test-call-sentence")
    expect(sentences).to_have_count(2)  # one per number, each checked
    for number, sentence in zip(TWILIO_NUMBERS[:2], sentences.all(), strict=True):
        expect(sentence).to_have_attribute("data-number", number)
        expect(sentence).to_contain_text("now reaches your receptionist")
    tour.check_plain_words()
    tour.check_fits_the_screen()
    page.get_by_role("link", name=f"← {clinic.name}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(clinic.name)
    expect(page.locator('#go-live-checklist [data-check="test_call"]')).to_contain_text(
        "Done", timeout=WAIT_MS
    )
    expect(carrier_card).to_contain_text("Twilio")
    tour.check_plain_words()
    tour.check_fits_the_screen()
    tour.shoot("27-carrier-flow")
    tour.check_offline_and_styled()
