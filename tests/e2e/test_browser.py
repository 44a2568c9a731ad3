"""The onboarding flow in a real browser: Debian's Chromium driven by Playwright, against
the app on loopback (pytest-django's live_server), a real celery worker and the emulator.

Every wait is on a condition (Playwright's expect / wait_for), never a sleep. With
SCREENSHOTS=1 the tests also write the README tour's pictures to docs/img/.
"""

from __future__ import annotations

import base64
import io
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import Browser, Page, expect, sync_playwright

from emulators.livekit.testing import EmulatorProcess
from telephony.models import Call, PhoneNumber, Provisioning
from telephony.services import clinic_go_live, phone_number_add
from tenants.models import Membership
from tests.e2e.conftest import (
    EMULATOR_KEY,
    EMULATOR_SECRET,
    ROOT,
    Worker,
    point_at,
    wait_until,
    worker_on_own_queue,
)
from tests.factories import UserFactory, make_clinic
from tests.jargon import jargon_in
from tests.twofactor_helpers import code_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SIZES = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
}
IMG_DIR = ROOT / "docs" / "img"
PASSWORD = "correct-horse-battery-9"  # what tests.factories.UserFactory sets
WAIT_MS = 30_000  # provisioning through a real worker; the emulator answers in milliseconds

N1, N2 = "+14155550111", "+14155550112"

# The text a person sees: every rendered text node and field value, except inside the
# "Advanced / for your IT person" disclosure (open or not).
VISIBLE_TEXT_JS = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || el.closest("details.advanced, script, style, select")) continue;
    if (!el.checkVisibility({ visibilityProperty: true })) continue;
    out.push(n.textContent);
  }
  for (const f of document.querySelectorAll("input:not([type=hidden]), textarea, select")) {
    if (f.closest("details.advanced") || !f.checkVisibility()) continue;
    out.push(f.tagName === "SELECT" ? (f.selectedOptions[0] || {}).text || "" : f.value);
    out.push(f.getAttribute("placeholder") || "");
  }
  return out.join(" ");
}"""


# Reports every securitypolicyviolation event of every page the tab loads to the test.
CSP_LISTENER_JS = """document.addEventListener("securitypolicyviolation", (e) => {
  window.__switchboardCspViolation(
    `${e.violatedDirective} blocked ${e.blockedURI || "inline"} on ${e.documentURI}` +
    ` (${e.sourceFile || ""}:${e.lineNumber || 0})`);
  window.__switchboardCspCount = (window.__switchboardCspCount || 0) + 1;
});"""


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser-check` (apt-get install chromium)")
    # Playwright's sync API keeps an event loop in this thread; Django would then refuse
    # ORM calls from the test body ("async context"). They are ordinary sync calls here.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as pw:
            chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(params=list(SIZES))
def size(request: pytest.FixtureRequest) -> str:
    return request.param


class Tour:
    """A browser tab on the live server that records what it must not do (leave the
    machine, fail to load an asset) and takes the tour's screenshots when asked to."""

    def __init__(self, page: Page, base: str, size: str) -> None:
        self.page, self.base, self.size = page, base.rstrip("/"), size
        self.offsite: list[str] = []
        self.failed_assets: list[str] = []
        self.csp_violations: list[str] = []
        self.shots = os.environ.get("SCREENSHOTS") == "1"
        page.on("request", self._on_request)
        page.on("response", self._on_response)
        # Content-Security-Policy violations, as the page reports them (the event) and as
        # Chromium logs them (the console): either fails the test when the tab closes.
        page.expose_binding("__switchboardCspViolation", self._on_csp_event)
        page.add_init_script(CSP_LISTENER_JS)
        page.on("console", self._on_console)
        page.set_default_timeout(10_000)

    def _on_request(self, request: Any) -> None:
        if not request.url.startswith((self.base, "data:", "about:")):
            self.offsite.append(request.url)

    def _on_response(self, response: Any) -> None:
        if "/static/" in response.url and response.status >= 400:
            self.failed_assets.append(f"{response.status} {response.url}")

    def _on_csp_event(self, source: Any, report: str) -> None:
        self.csp_violations.append(report)

    def _on_console(self, message: Any) -> None:
        if "Content Security Policy" in message.text:
            self.csp_violations.append(message.text)

    def check_no_csp_violations(self) -> None:
        assert self.csp_violations == [], self.csp_violations

    def goto(self, path: str) -> None:
        self.page.goto(self.base + path)

    def path(self) -> str:
        return urlsplit(self.page.url).path

    def shoot(self, name: str) -> None:
        """docs/img/<name>-<size>.png, the whole page, in 48 colours (the tour stays small:
        flat UI colours survive quantising, and the files shrink about threefold)."""
        if not self.shots:
            return
        from PIL import Image  # dev extra, needed only to write the tour

        png = self.page.screenshot(full_page=True, animations="disabled")
        image = Image.open(io.BytesIO(png)).convert("RGB")
        image = image.quantize(colors=48, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        IMG_DIR.mkdir(parents=True, exist_ok=True)
        image.save(IMG_DIR / f"{name}-{self.size}.png", optimize=True)

    def check_offline_and_styled(self) -> None:
        """Every request stayed on the app; every asset loaded; the stylesheet applied; the
        page broke no rule of its Content-Security-Policy."""
        assert self.offsite == [], self.offsite
        self.check_no_csp_violations()
        assert self.failed_assets == [], self.failed_assets
        background = self.page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(245, 247, 250)", "app.css was not applied"

    def check_plain_words(self) -> None:
        """No jargon (tests/jargon.py) visible on this clinic page outside the "Advanced /
        for your IT person" disclosure: what Chromium renders, field values included."""
        text = self.page.evaluate(VISIBLE_TEXT_JS)
        found = jargon_in(text)
        assert not found, f"{self.path()}: " + "; ".join(found)

    def check_fits_the_screen(self) -> None:
        """No sideways scrolling of the page (wide tables scroll inside their own box)."""
        overflow = self.page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the page is {overflow}px wider than the screen"


def open_tour(browser: Browser, live_server: Any, size: str) -> tuple[Any, Tour]:
    """A fresh browser context (its own cookies: another person) with one tab."""
    # The browser reports a US west-coast zone: signup starts the clinic in it.
    context = browser.new_context(
        **SIZES[size], base_url=live_server.url, timezone_id="America/Los_Angeles"
    )
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    return context, Tour(context.new_page(), live_server.url, size)


@pytest.fixture
def tour(browser: Browser, live_server: Any, size: str) -> Iterator[Tour]:
    context, tour = open_tour(browser, live_server, size)
    try:
        yield tour
        tour.check_no_csp_violations()
    finally:
        context.close()


def sign_in(tour: Tour, email: str) -> None:
    tour.goto("/login/")
    field(tour.page, "Email").fill(email)
    field(tour.page, "Password").fill(PASSWORD)
    tour.page.get_by_role("button", name="Sign in").click()
    expect(tour.page.get_by_role("heading", level=1)).not_to_have_text("Sign in")


def field(page: Page, label: str) -> Any:
    """The form control with exactly this label (labels are how people find fields)."""
    return page.get_by_label(label, exact=True)


def field_error(page: Page, field_id: str) -> Any:
    """The message rendered next to a field (Django's errorlist, tied by aria-describedby)."""
    return page.locator(f"#{field_id}_error")


# --- the happy path -------------------------------------------------------------------------


def test_sign_up_set_up_and_go_live_without_reloading(tour, livekit, worker, size):
    page = tour.page
    email = f"owner-{size}@brightsmile.example"

    # Landing: says what Switchboard does, starts signup.
    tour.goto("/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("AI receptionist")
    tour.shoot("01-landing")
    page.get_by_role("link", name="Set up your clinic").first.click()

    # Sign up.
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up your clinic")
    field(page, "Work email").fill(email)
    field(page, "Password").fill("a-Long-passw0rd!")
    field(page, "Clinic name").fill("Bright Smile Dental")
    tour.shoot("02-signup")
    page.get_by_role("button", name="Create account").click()

    # Step 1: details (the email banner asks for confirmation meanwhile). The time zone is
    # the browser's; the search box finds another one by city.
    expect(page.get_by_role("heading", level=1)).to_have_text("Clinic details")
    expect(page.get_by_role("region", name="Email confirmation")).to_be_visible()
    expect(page.get_by_text("1 of 5", exact=False)).to_be_visible()
    expect(page.locator(".steps__title").first).to_be_visible()  # step names, phone too
    expect(field(page, "Time zone")).to_have_value("America/Los_Angeles")
    tour.check_plain_words()
    field(page, "Search time zones").fill("new york")
    expect(field(page, "Time zone")).to_have_value("America/New_York")
    expect(page.locator("#id_timezone_search_status")).to_contain_text("America/New_York")
    field(page, "Search time zones").press("Enter")  # choosing is not saving
    expect(page.get_by_role("heading", level=1)).to_have_text("Clinic details")
    tour.shoot("03-details")
    page.get_by_role("button", name="Save and continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Phone numbers")

    # Verify the email: follow the link from the message, as the owner would.
    (message,) = [m for m in mail.outbox if email in m.to]
    link = re.search(r"https?://\S+(/verify-email/\S+)", message.body)
    assert link, message.body
    tour.goto(link.group(1))
    expect(page.get_by_role("heading", level=1)).to_have_text("Email confirmed")
    page.get_by_role("link", name="Continue").click()

    # The draft dashboard points back into the setup, which resumes at the first step to do.
    expect(page.get_by_role("heading", name="Finish setting up")).to_be_visible()
    expect(page.get_by_role("region", name="Email confirmation")).to_have_count(0)
    tour.check_plain_words()
    page.get_by_role("link", name="Continue setup").first.click()

    # Step 2: numbers, typed as the clinic dials them (a US zone: US numbers), on the
    # phone's number keypad.
    expect(page.get_by_role("heading", level=1)).to_have_text("Phone numbers")
    expect(field(page, "Phone number")).to_have_attribute("type", "tel")
    for typed, shown, label in (
        ("(415) 555-0111", "+1 415 555 0111", "Front desk"),
        (N2, "+1 415 555 0112", ""),
    ):
        field(page, "Phone number").fill(typed)
        field(page, "Label (optional)").fill(label)
        page.get_by_role("button", name="Add number").click()
        expect(page.locator(".messages")).to_contain_text(f"{shown} added.")
    expect(page.locator(f'.numbers [data-e164="{N1}"]')).to_contain_text("+1 415 555 0111")
    tour.check_plain_words()
    tour.shoot("04-numbers")
    page.get_by_role("link", name="Continue").click()

    # Step 3: carrier settings; the values for the carrier are under Advanced, with copy
    # buttons.
    expect(page.get_by_role("heading", level=1)).to_have_text("Carrier settings")
    tour.check_plain_words()
    field(page, "Carrier addresses").fill("192.0.2.10\n198.51.100.0/24")
    field(page, "Username (optional)").fill("brightsmile")
    field(page, "Password").fill("trunk-Secret-42")
    page.get_by_role("button", name="Save and continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Receptionist")
    page.get_by_role("link", name="Back").click()
    help_box = page.locator(".carrier-help")
    expect(help_box).to_contain_text("brightsmile")
    expect(help_box).not_to_contain_text("trunk-Secret-42")
    expect(page.get_by_role("button", name="Copy SIP URI")).to_be_hidden()  # folded away
    help_box.locator("summary", has_text="Advanced / for your IT person").click()
    help_box.locator(
        "summary", has_text="Twilio Elastic SIP Trunking"
    ).click()  # opens the guide (<details>)
    expect(page.locator("details.guide").first).to_have_attribute("open", "")
    page.get_by_role("button", name="Copy SIP URI").click()
    expect(page.locator('button[data-copy="cv-sip-uri"]')).to_contain_text("Copied")
    expect(page.locator("#copy-status")).to_have_text("SIP URI copied.")
    sip_uri = page.locator("#cv-sip-uri").inner_text()
    assert page.evaluate("navigator.clipboard.readText()") == sip_uri
    tour.check_plain_words()  # open or not, the disclosure is the IT person's
    tour.shoot("05-carrier")
    page.get_by_role("link", name="Skip to next step").click()

    # Step 4: the receptionist, from a language and voice preset; the greeting is a
    # paragraph, not a one-line box.
    expect(page.get_by_role("heading", level=1)).to_have_text("Receptionist")
    page.get_by_role("link", name=re.compile("English \\(UK\\)")).click()
    greeting = field(page, "Greeting")
    expect(greeting).to_have_value(
        "Thank you for calling Bright Smile Dental. How may I help you today?"
    )
    assert greeting.evaluate("e => e.tagName") == "TEXTAREA"
    assert greeting.evaluate(
        "e => e.scrollWidth <= e.clientWidth && e.scrollHeight <= e.clientHeight"
    )
    expect(field(page, "Language")).to_have_value("en-GB")
    expect(field(page, "Voice")).to_have_value("sage")
    tour.check_plain_words()
    tour.shoot("06-receptionist")
    page.get_by_role("button", name="Save and continue").click()

    # Step 5: review, then go live.
    expect(page.get_by_role("heading", level=1)).to_have_text("Review and go live")
    expect(page.get_by_text("Everything is ready.")).to_be_visible()
    expect(page.locator("section[aria-labelledby=r-agent]")).to_contain_text("English (UK)")
    expect(page.locator('[data-risk="open-to-anyone"]')).to_have_count(0)  # addresses set
    tour.check_plain_words()
    tour.shoot("07-review")
    # LiveKit takes a moment over the first create, so the page is seen before it is live.
    livekit.add_faults(
        [{"method": "CreateSIPInboundTrunk", "action": "latency", "latency_ms": 1500}]
    )
    page.get_by_role("button", name="Go live").click()

    # The dashboard follows provisioning in place: no reload, no navigation. The card, the
    # checklist and the header change together.
    expect(page.get_by_role("heading", level=1)).to_have_text("Bright Smile Dental")
    status = page.locator("#status-card [data-field=state_label]")
    line_item = page.locator('#go-live-checklist [data-check="provisioning"]')
    expect(status).not_to_have_text("Active")
    expect(line_item).to_contain_text("To do")
    page.evaluate("window.__sameDocument = 'yes'")
    navigations: list[str] = []
    page.on("framenavigated", lambda f: navigations.append(f.url) if not f.parent_frame else None)
    tour.check_plain_words()
    tour.shoot("08-going-live")
    expect(status).to_have_text("Active", timeout=WAIT_MS)
    expect(line_item).to_contain_text("Done")
    expect(line_item).to_contain_text("Your numbers are connected to your receptionist.")
    expect(page.locator('[data-live="clinic_state_label"]')).to_have_text("Live")
    # LiveKit's side is done, but nothing says the carrier sends calls yet (issue 14): the
    # carrier step waits, and "Answering calls" is not ticked before a real call.
    expect(page.locator('#prov-steps [data-step="carrier"]')).to_contain_text(
        "Waiting for your carrier"
    )
    expect(page.locator('#prov-steps [data-step="live"]')).to_contain_text("Waiting")
    expect(page.locator("#carrier-card")).to_contain_text("Waiting for your carrier")
    expect(page.locator("#status-card [data-show-when=busy]")).to_be_hidden()
    expect(page.locator("#events .events__sentence").first).to_have_text(
        "Your phone line is up to date."
    )
    expect(page.locator("#events time").first).to_contain_text(re.compile(r" E[SD]T$"))
    status_card = page.locator("#status-card")
    status_card.locator("summary", has_text="Advanced / for your IT person").click()
    trunk_id = page.locator("[data-field=trunk_id]").inner_text()
    assert page.evaluate("window.__sameDocument") == "yes" and navigations == []
    (trunk,) = livekit.state()["inbound_trunks"]
    assert trunk["sip_trunk_id"] == trunk_id and sorted(trunk["numbers"]) == [N1, N2]
    assert trunk["allowed_addresses"] == ["192.0.2.10", "198.51.100.0/24"]
    (rule,) = livekit.state()["dispatch_rules"]
    assert (
        page.locator("[data-field=dispatch_rule_id]").inner_text() == rule["sip_dispatch_rule_id"]
    )
    expect(page.locator(".carrier-help")).to_contain_text(N2)
    tour.check_plain_words()
    tour.shoot("09-live")

    # Settings after go-live: editing the receptionist saves back to the receptionists,
    # never into the setup wizard.
    page.get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Clinic details")
    settings_nav = page.get_by_role("navigation", name="Settings")
    settings_nav.get_by_role("link", name="Receptionists").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Receptionists")
    page.get_by_role("link", name="Edit Main line").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Main line")
    expect(page.get_by_text(re.compile(r"Step \d of \d"))).to_have_count(0)
    tour.check_plain_words()
    field(page, "Greeting").fill("Good morning, Bright Smile Dental. How can we help?")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Receptionists")
    expect(page.locator(".messages")).to_contain_text(
        "Receptionist “Main line” saved. Your phone line is being updated."
    )
    page.get_by_role("link", name="Back to the dashboard").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Bright Smile Dental")
    expect(status).to_have_text("Active", timeout=WAIT_MS)
    tour.shoot("19-settings-saved")
    tour.check_fits_the_screen()
    tour.check_offline_and_styled()


# --- unhappy paths --------------------------------------------------------------------------


@pytest.fixture
def signed_in_owner(tour: Tour) -> Any:
    """A verified owner of a draft clinic, signed in through the login form."""
    user = UserFactory(email=f"owner-{tour.size}@second.example")
    clinic = make_clinic(user, "Second Smile Dental")
    sign_in(tour, user.email)
    return clinic


def test_a_number_taken_by_another_clinic_is_refused_next_to_the_field(tour, signed_in_owner):
    first = make_clinic(name="First Dental")
    phone_number_add(clinic=first, number=N1)
    page = tour.page
    tour.goto(f"/clinics/{signed_in_owner.slug}/setup/numbers/")
    page.keyboard.press("Tab")  # keyboard users first meet the skip link, and it works
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()

    field(page, "Phone number").fill("+1 (415) 555-0111")
    field(page, "Phone number").press("Enter")  # keyboard only

    expect(field_error(page, "id_e164")).to_contain_text("already registered to another clinic")
    number = field(page, "Phone number")
    expect(number).to_have_attribute("aria-invalid", "true")
    expect(number).to_be_focused()
    expect(number).to_have_value("+1 (415) 555-0111")
    expect(page.get_by_role("alert")).to_contain_text("Please correct the field marked below")
    tour.shoot("10-number-taken")
    assert PhoneNumber.objects.get(e164=N1).clinic_id == first.pk
    assert not PhoneNumber.objects.for_clinic(signed_in_owner).exists()
    tour.check_offline_and_styled()


def test_a_malformed_number_gets_a_message_next_to_the_field(tour, signed_in_owner):
    page = tour.page
    tour.goto(f"/clinics/{signed_in_owner.slug}/setup/numbers/")

    field(page, "Phone number").fill("415 555 0111")
    field(page, "Label (optional)").fill("Front desk")
    page.get_by_role("button", name="Add number").click()

    expect(field_error(page, "id_e164")).to_contain_text("Start with + and the country code")
    expect(field(page, "Phone number")).to_be_focused()
    expect(field(page, "Label (optional)")).to_have_value("Front desk")  # nothing lost
    # The summary links to the field.
    page.get_by_role("alert").get_by_role("link", name="Phone number").click()
    expect(field(page, "Phone number")).to_be_focused()
    tour.shoot("11-number-malformed")

    field(page, "Phone number").fill("+1 415 555 0111")
    page.get_by_role("button", name="Add number").click()
    expect(page.locator(f'.numbers [data-e164="{N1}"]')).to_be_visible()
    expect(field_error(page, "id_e164")).to_have_count(0)
    tour.check_offline_and_styled()


def test_livekit_failing_then_recovering_shows_retrying_then_active(
    tour, signed_in_owner, livekit, worker
):
    phone_number_add(clinic=signed_in_owner, number=N2)
    page = tour.page
    tour.goto(f"/clinics/{signed_in_owner.slug}/setup/review/")
    livekit.add_faults(
        [
            {
                "method": "*",
                "action": "status",
                "status": 503,
                "duration_s": 4,
                "window_from": "first_match",
            }
        ]
    )

    page.get_by_role("button", name="Go live").click()

    status = page.locator("#status-card [data-field=state_label]")
    expect(page.get_by_role("heading", level=1)).to_have_text("Second Smile Dental")
    page.evaluate("window.__sameDocument = 'yes'")
    expect(status).to_have_text("Retrying", timeout=WAIT_MS)
    expect(page.locator("#status-card [data-field=state_sentence]")).to_contain_text(
        "trying again by itself"
    )
    expect(page.locator("#status-card [data-field=problem]")).to_contain_text("Nothing is lost")
    tour.check_plain_words()
    expect(page.get_by_role("button", name="Retry now")).to_be_visible()
    expect(page.locator('#prov-steps [data-step="trunk"]')).to_contain_text("Retrying")
    tour.shoot("12-retrying")
    expect(status).to_have_text("Active", timeout=WAIT_MS)
    expect(page.get_by_role("button", name="Retry now")).to_be_hidden()
    expect(page.locator("#status-card [data-field=last_error_box]")).to_be_hidden()
    assert page.evaluate("window.__sameDocument") == "yes"
    tour.shoot("13-recovered")
    failed = [r for r in livekit.requests() if r["status"] == 503]
    assert failed, "the fault never fired"
    assert len(livekit.state()["inbound_trunks"]) == 1
    tour.check_offline_and_styled()


# --- after going live: a test call, a teammate ----------------------------------------------


@pytest.fixture
def call_livekit(live_server: Any, settings: Any) -> Iterator[EmulatorProcess]:
    """An emulator of its own whose signed webhooks go to the app (the call log), and this
    process pointed at it (the session's emulator sends no webhooks)."""
    with EmulatorProcess(
        api_key=EMULATOR_KEY,
        api_secret=EMULATOR_SECRET,
        webhook_url=f"{live_server.url}/webhooks/livekit",
    ) as emu:
        point_at(settings, emu)
        yield emu


@pytest.fixture
def call_worker(transactional_db: None, call_livekit: EmulatorProcess) -> Iterator[Worker]:
    with worker_on_own_queue(call_livekit.url, "e2e-browser") as w:
        yield w


def test_a_test_call_from_the_dashboard_reaches_the_receptionist_and_the_call_log(
    tour, call_livekit, call_worker, size
):
    owner = UserFactory(email=f"owner-{size}@calls.example")
    clinic = make_clinic(owner, "Bright Smile Dental")
    phone_number_add(clinic=clinic, number=N1)
    clinic_go_live(clinic=clinic, actor=owner)  # the worker provisions it
    page = tour.page
    sign_in(tour, owner.email)
    tour.goto(f"/clinics/{clinic.slug}/")
    expect(page.locator("#status-card [data-field=state_label]")).to_have_text(
        "Active", timeout=WAIT_MS
    )
    checklist_item = page.locator('#go-live-checklist [data-check="test_call"]')
    expect(checklist_item).to_contain_text("To do")

    page.get_by_role("link", name="Test call…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Test call")
    field(page, "Call from").fill("+1 415 555 9876")
    page.get_by_role("button", name="Run test call").click()

    result = page.get_by_role("region", name="Test call passed")
    expect(result).to_be_visible()
    expect(result).to_be_focused()  # scrolled into view and focused, for a phone
    expect(result.locator(".test-call-sentence")).to_contain_text(
        "OK A call to +1 415 555 0111 now reaches your receptionist, Bright Smile Dental "
        "English (US) line."
    )
    # Who answers now and after hours (no hours set: open around the clock).
    expect(result.locator(".test-call-hours")).to_have_text(
        "Open now: Main line answers. After hours: Main line takes a message."
    )
    tour.check_plain_words()
    result.locator("summary", has_text="Advanced / for your IT person").click()
    expect(result).to_contain_text("Simulated by the LiveKit emulator")
    prov = Provisioning.objects.get(clinic=clinic)
    summary = result.locator("dl.summary")
    expect(summary).to_contain_text(f"Trunk{prov.trunk_id}")
    expect(summary).to_contain_text(f"Dispatch rule{prov.dispatch_rule_id}")
    expect(summary).to_contain_text("Agent dispatchedswitchboard-receptionist")
    room = summary.locator("dd").nth(3).locator("code").nth(1).inner_text()
    assert room.startswith(f"{clinic.room_prefix}_"), room
    expect(result.get_by_text("OK", exact=True)).to_be_visible()
    tour.shoot("14-test-call")
    tour.check_fits_the_screen()

    # The emulator's webhooks land in the call log, marked as a test; the page is a plain
    # page, so it is opened again once the call has been recorded.
    wait_until(
        lambda: Call.objects.filter(
            clinic=clinic, is_test=True, status=Call.Status.COMPLETED
        ).exists(),
        timeout=20,
    )
    page.get_by_role("link", name=f"← {clinic.name}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(clinic.name)
    (row,) = page.locator("#calls tbody tr").all()
    expect(row).to_contain_text("Completed")
    expect(row).to_contain_text("Test")
    expect(row).to_contain_text("+1 415 555 9876")  # the owner sees the number (decision 0030)
    expect(row).to_contain_text(" UTC")  # the clinic's zone, with its abbreviation
    details = row.get_by_role("link", name=re.compile("^Details"))
    expect(details).to_have_attribute("href", re.compile(f"/clinics/{clinic.slug}/calls/RM_"))
    expect(checklist_item).to_contain_text("Done")
    expect(checklist_item).to_contain_text("passed")
    # Every column is visible without scrolling the table (on a phone, rows become blocks).
    assert page.locator("#calls .table-wrap").evaluate("e => e.scrollWidth <= e.clientWidth")
    page.locator("#calls").scroll_into_view_if_needed()
    tour.check_plain_words()
    tour.shoot("15-call-log")
    tour.check_fits_the_screen()
    tour.check_offline_and_styled()


def test_an_owner_invites_a_teammate_who_joins_from_the_emailed_link(
    tour, signed_in_owner, browser, live_server, size
):
    page = tour.page
    teammate = f"frontdesk-{size}@second.example"
    tour.goto(f"/clinics/{signed_in_owner.slug}/")
    page.get_by_role("link", name="Team").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Team")
    field(page, "Email address").fill(teammate)
    field(page, "Role").select_option(label="Admin")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.locator(".messages")).to_contain_text(f"Invitation for {teammate} created")
    invited = page.locator(f'[data-invitation="{teammate}"]')
    expect(invited).to_contain_text("Admin")
    expect(invited).to_contain_text("Pending")
    revoke = invited.get_by_role("button", name=f"Revoke the invitation to {teammate}")
    expect(revoke).to_be_visible()  # each member's buttons say whom they are for
    tour.check_plain_words()
    tour.shoot("16-team-invite")
    tour.check_fits_the_screen()

    # The teammate, in a browser of their own, follows the emailed link.
    (message,) = [m for m in mail.outbox if teammate in m.to]
    link = re.search(r"https?://\S+(/invitations/\S+)", message.body)
    assert link, message.body
    context, other = open_tour(browser, live_server, size)
    try:
        them = other.page
        other.goto(link.group(1))
        expect(them.get_by_role("heading", level=1)).to_have_text("Join Second Smile Dental")
        assert link.group(1) not in them.url  # the token left the address bar
        expect(them.get_by_label("Email", exact=True)).to_have_value(teammate)
        field(them, "Choose a password").fill("Front-desk-Passw0rd")
        other.shoot("17-invitation")
        other.check_fits_the_screen()
        them.get_by_role("button", name="Create account and join").click()

        # Signed in, in the clinic, as the invited role.
        expect(them.get_by_role("heading", level=1)).to_have_text("Second Smile Dental")
        expect(them.locator(".messages")).to_contain_text(
            "Welcome to Second Smile Dental. You are admin."
        )
        expect(them.locator(".page-head")).to_contain_text("you are admin")
        them.get_by_role("link", name="Team").click()
        me = them.locator(f'[data-member="{teammate}"]')
        expect(me).to_contain_text("(you)")
        expect(me).to_contain_text("Admin")
        # Only owners invite: an admin sees the team, not the invite form.
        expect(them.get_by_role("button", name="Send invitation")).to_have_count(0)
        other.check_offline_and_styled()
    finally:
        context.close()
    other.check_no_csp_violations()

    # The owner's Team page lists them as a member; the invitation is no longer waiting.
    page.reload()
    member = page.locator(f'[data-member="{teammate}"]')
    expect(member).to_contain_text("Admin")
    expect(member.get_by_role("button", name=f"Remove {teammate}")).to_be_visible()
    expect(member.get_by_label(f"Role for {teammate}")).to_have_value("admin")
    expect(page.locator(f'[data-invitation="{teammate}"]')).to_have_count(0)
    tour.shoot("18-team")
    tour.check_fits_the_screen()
    role = Membership.objects.get(clinic=signed_in_owner, user__email=teammate).role
    assert role == Membership.Role.ADMIN
    tour.check_offline_and_styled()


# --- Content-Security-Policy ------------------------------------------------------------------


def test_a_csp_violation_is_caught_by_the_tour(tour):
    """The listener works: a style injected inline is blocked and reported."""
    tour.goto("/login/")
    tour.page.evaluate(
        "() => { const s = document.createElement('style');"
        " s.textContent = 'body { color: red }'; document.head.append(s); }"
    )
    tour.page.wait_for_function("() => window.__switchboardCspCount > 0")
    assert "style-src" in " ".join(tour.csp_violations), tour.csp_violations
    tour.csp_violations.clear()


def app_code(page: Page) -> str:
    """What an authenticator app shows for the key on the setup page (RFC 6238, computed
    with django-otp's implementation from the key the page prints for typing by hand)."""
    key = page.locator("#twofactor-secret").inner_text().replace(" ", "")
    key += "=" * (-len(key) % 8)
    return f"{TOTP(base64.b32decode(key)).token():06d}"


def enrol_in_the_browser(page: Page) -> list[str]:
    """On the two-factor page: scan (read the key), type the code; returns the recovery codes."""
    expect(page.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
    field(page, "Code from the app").fill(app_code(page))
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    return page.locator(".codes code").all_inner_texts()


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(
        page.get_by_role("navigation", name="Account").get_by_role("link", name="Sign in")
    ).to_be_visible()


def test_two_factor_enrolment_then_sign_in_with_a_code_and_with_a_recovery_code(
    browser, live_server
):
    owner = UserFactory(email="owner@twofactor.example")
    clinic = make_clinic(owner, "Second Factor Dental")
    context, tour = open_tour(browser, live_server, "desktop")
    try:
        page = tour.page
        sign_in(tour, owner.email)  # no second factor yet: the password is enough
        tour.goto("/account/password/")
        page.get_by_role("link", name="Two-factor sign-in").click()
        codes = enrol_in_the_browser(page)
        assert len(codes) == 10
        tour.shoot("20-two-factor-setup")
        sign_out(page)

        # Password, then the code from the app (the next one: the last was used to enrol).
        tour.goto("/login/")
        field(page, "Email").fill(owner.email)
        field(page, "Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Enter your code")
        device = TOTPDevice.objects.get(user=owner, confirmed=True)
        field(page, "Code").fill(code_for(device, steps_ahead=1))
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(clinic.name)
        sign_out(page)

        # Phone lost: a recovery code signs in once and leads to setting up again.
        tour.goto("/login/")
        field(page, "Email").fill(owner.email)
        field(page, "Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        field(page, "Code").fill(codes[0])
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator(".messages")).to_contain_text("recovery code (9 left)")
        page.get_by_role("button", name="Set up a new phone").click()
        assert len(enrol_in_the_browser(page)) == 10
        tour.check_offline_and_styled()
    finally:
        context.close()
    tour.check_no_csp_violations()


def test_staff_without_two_factor_are_refused_by_the_admin_and_nothing_breaks_the_policy(
    browser, live_server
):
    clinic = make_clinic(UserFactory(email="owner@csp.example"), "Policy Dental")
    staff = UserFactory(email="ops@switchboard.example", is_staff=True, is_superuser=True)
    context, tour = open_tour(browser, live_server, "desktop")
    try:
        page = tour.page
        tour.goto("/admin/")  # the admin's own login page sends people to the app's sign-in
        expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
        field(page, "Email").fill(staff.email)
        field(page, "Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        # Right password, no second factor: the admin refuses and sends them to enrol.
        expect(page.get_by_role("heading", level=1)).to_have_text("Two-factor sign-in")
        expect(page.locator(".messages")).to_contain_text("Staff accounts need two-factor")
        tour.goto("/admin/tenants/clinic/")
        expect(page.get_by_role("heading", level=1)).to_have_text("Two-factor sign-in")
        enrol_in_the_browser(page)
        page.get_by_role("link", name="Continue").click()
        expect(page.locator("#site-name")).to_be_visible()
        for path in (
            "/admin/",
            "/admin/tenants/clinic/",
            f"/admin/tenants/clinic/{clinic.pk}/change/",
            "/admin/ops/",
            "/admin/tenants/user/",
            f"/admin/tenants/user/{staff.pk}/change/",
            "/admin/audit/auditentry/",
        ):
            tour.goto(path)
            expect(page.locator("#content")).to_be_visible()
        tour.goto("/api/docs/")
        expect(page.locator(".swagger-ui .info .title")).to_contain_text("Switchboard API")
        assert tour.offsite == [], tour.offsite
    finally:
        context.close()
    tour.check_no_csp_violations()
