"""After go-live the clinic has settings, not a wizard: every save returns to the dashboard;
numbers typed without a country code take the clinic's country."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from telephony.models import PhoneNumber, Receptionist
from telephony.services import phone_number_add
from tenants.models import Clinic
from tenants.services import clinic_update
from tests.tenants.web_helpers import dashboard_url, errors_for, setup_url

pytestmark = pytest.mark.django_db


def settings_url(clinic, section):
    return reverse("tenants:settings", args=[clinic.slug, section])


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def live(clinic):
    phone_number_add(clinic=clinic, number="+14155550100")
    Clinic.objects.filter(pk=clinic.pk).update(state=Clinic.State.LIVE)
    clinic.refresh_from_db()
    return clinic


AGENT_FORM = {
    "greeting": "Hello from the new desk.",
    "instructions": "Be kind.",
    "language": "en-US",
    "voice": "alloy",
    "stt_model": "deepgram/nova-3",
    "llm_model": "openai/gpt-4o-mini",
    "tts_model": "openai/gpt-4o-mini-tts",
}


@pytest.mark.parametrize("step", ["details", "numbers", "carrier", "agent"])
def test_the_wizard_of_a_live_clinic_opens_its_settings(owner_client, live, step):
    response = owner_client.get(setup_url(live, step))
    assert response.status_code == 302 and response["Location"] == settings_url(live, step)
    page = owner_client.get(settings_url(live, step)).content.decode()
    assert not re.search(r"Step \d of \d", page) and "Save and continue" not in page
    assert "Back to the dashboard" in page


def test_review_of_a_live_clinic_is_its_dashboard(owner_client, live):
    response = owner_client.get(setup_url(live, "review"))
    assert response["Location"] == dashboard_url(live)


def test_settings_of_a_draft_clinic_are_its_guided_setup(owner_client, clinic):
    response = owner_client.get(settings_url(clinic, "agent"))
    assert response["Location"] == setup_url(clinic, "agent")
    assert owner_client.get(settings_url(clinic, "review")).status_code == 404


def test_editing_the_receptionist_of_a_live_clinic_returns_to_the_dashboard(owner_client, live):
    response = owner_client.post(settings_url(live, "agent"), AGENT_FORM)
    assert response.status_code == 302 and response["Location"] == dashboard_url(live)
    assert Receptionist.objects.for_clinic(live).get().greeting == "Hello from the new desk."
    page = owner_client.get(response["Location"]).content.decode()
    assert "Receptionist settings saved. Your phone line is being updated." in page


def test_an_old_wizard_form_posting_for_a_live_clinic_also_returns_to_the_dashboard(
    owner_client, live
):
    response = owner_client.post(setup_url(live, "agent"), AGENT_FORM)
    assert response["Location"] == dashboard_url(live)


@pytest.mark.parametrize(
    ("section", "data"),
    [
        ("details", {"name": "Bright Smile North", "timezone": "America/Chicago"}),
        ("numbers", {"e164": "+1 415 555 0101", "label": ""}),
        ("carrier", {"allowed_addresses": "192.0.2.10", "auth_username": ""}),
    ],
)
def test_every_settings_save_returns_to_the_dashboard(owner_client, live, section, data):
    response = owner_client.post(settings_url(live, section), data)
    assert response.status_code == 302 and response["Location"] == dashboard_url(live)


def test_removing_a_number_in_settings_returns_to_the_dashboard(owner_client, live):
    phone_number_add(clinic=live, number="+14155550101")
    response = owner_client.post(
        reverse("tenants:number_remove", args=[live.slug]), {"e164": "+14155550101"}
    )
    assert response["Location"] == dashboard_url(live)


def test_an_error_in_settings_stays_on_the_form_with_nothing_lost(owner_client, live):
    response = owner_client.post(settings_url(live, "agent"), {**AGENT_FORM, "greeting": ""})
    assert response.status_code == 400
    assert errors_for(response, "greeting")
    assert "Bright Smile" in Receptionist.objects.for_clinic(live).get().greeting


def test_the_dashboard_of_a_live_clinic_links_to_settings_not_the_wizard(owner_client, live):
    page = owner_client.get(dashboard_url(live)).content.decode()
    assert reverse("tenants:settings_start", args=[live.slug]) in page
    assert "Continue setup" not in page
    assert owner_client.get(reverse("tenants:settings_start", args=[live.slug]))[
        "Location"
    ] == settings_url(live, "details")


def test_viewers_see_settings_but_may_not_save(client, live, viewer):
    client.force_login(viewer)
    assert client.get(settings_url(live, "agent")).status_code == 200
    assert client.post(settings_url(live, "agent"), AGENT_FORM).status_code == 403


def test_outsiders_get_404_for_settings(client, live, outsider):
    client.force_login(outsider)
    assert client.get(settings_url(live, "agent")).status_code == 404
    assert client.get(reverse("tenants:settings_start", args=[live.slug])).status_code == 404


# --- national numbers -------------------------------------------------------------------------


def test_a_national_number_takes_the_clinics_country(owner_client, clinic):
    clinic_update(clinic=clinic, timezone_name="America/Los_Angeles")
    page = owner_client.get(setup_url(clinic, "numbers")).content.decode()
    assert "As you would dial it in your country (US), e.g. (201) 555-0123" in page
    assert 'type="tel"' in page and 'inputmode="tel"' in page
    response = owner_client.post(setup_url(clinic, "numbers"), {"e164": "(415) 555-0199"})
    assert response.status_code == 302
    assert PhoneNumber.objects.for_clinic(clinic).get().e164 == "+14155550199"


def test_a_national_number_in_a_utc_clinic_asks_for_the_country_code(owner_client, clinic):
    response = owner_client.post(setup_url(clinic, "numbers"), {"e164": "(415) 555-0199"})
    assert response.status_code == 400
    assert "Start with + and the country code" in errors_for(response, "e164")[0]
    assert not PhoneNumber.objects.for_clinic(clinic).exists()


def test_a_british_clinic_reads_british_numbers(owner_client, clinic):
    clinic_update(clinic=clinic, timezone_name="Europe/London")
    owner_client.post(setup_url(clinic, "numbers"), {"e164": "020 7946 0000"})
    assert PhoneNumber.objects.for_clinic(clinic).get().e164 == "+442079460000"


# --- what the pages say about state -----------------------------------------------------------


def test_the_email_banner_shows_only_when_confirming_really_blocks(client, settings, clinic):
    from tests.factories import UserFactory

    user = UserFactory(email_verified_at=None)
    client.force_login(user)
    settings.REQUIRE_EMAIL_VERIFICATION = True
    assert "Confirm your email address" in client.get(reverse("tenants:home")).content.decode()
    settings.REQUIRE_EMAIL_VERIFICATION = False
    assert "Confirm your email address" not in client.get(reverse("tenants:home")).content.decode()


def test_the_review_page_repeats_the_open_to_anyone_risk(owner_client, clinic):
    page = owner_client.get(setup_url(clinic, "review")).content.decode()
    assert 'data-risk="open-to-anyone"' in page and "Calls are accepted from any address" in page
    owner_client.post(setup_url(clinic, "carrier"), {"allowed_addresses": "192.0.2.10"})
    page = owner_client.get(setup_url(clinic, "review")).content.decode()
    assert 'data-risk="open-to-anyone"' not in page


def test_the_greeting_is_several_lines(owner_client, clinic):
    page = owner_client.get(setup_url(clinic, "agent")).content.decode()
    assert '<textarea name="greeting"' in page
