"""The guided setup steps: valid and invalid input, service errors next to the field,
nothing stored on error, the write-only SIP password, and review / go live."""

from __future__ import annotations

from unittest import mock

import pytest
from django.urls import reverse

from telephony.models import PhoneNumber, Provisioning, Receptionist, TrunkSettings
from telephony.services import phone_number_add
from tenants.models import Clinic
from tests.factories import UserFactory, make_clinic
from tests.tenants.web_helpers import dashboard_url, errors_for, setup_url

pytestmark = pytest.mark.django_db

SECRET = "s3cret-Trunk-Pa55word"
AGENT = {
    "greeting": "Hello from Bright Smile!",
    "instructions": "Be kind. Book appointments.",
    "language": "en-GB",
    "voice": "sage",
    "stt_model": "openai/whisper-1",
    "llm_model": "openai/gpt-4.1",
    "tts_model": "cartesia/sonic-2",
    "recording_consent_required": "",
}


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


# --- navigation and progress --------------------------------------------------------------


def test_setup_start_goes_to_the_first_step_to_do(owner_client, clinic):
    response = owner_client.get(reverse("tenants:setup_start", args=[clinic.slug]))
    assert response["Location"] == setup_url(clinic, "numbers")


def test_progress_marks_steps_done_and_to_do(owner_client, clinic):
    response = owner_client.get(setup_url(clinic, "details"))
    status = {s.slug: s.status for s in response.context["steps"]}
    assert status == {
        "details": "done",
        "numbers": "todo",
        "carrier": "optional",
        "agent": "done",
        "review": "todo",
    }
    assert b'aria-current="step"' in response.content


def test_unknown_step_is_404(owner_client, clinic):
    assert owner_client.get(setup_url(clinic, "nope")).status_code == 404


# --- clinic details -------------------------------------------------------------------------


def test_details_saves_name_and_timezone(owner_client, clinic):
    response = owner_client.post(
        setup_url(clinic, "details"), {"name": "Bright Smile North", "timezone": "Europe/Berlin"}
    )
    assert response["Location"] == setup_url(clinic, "numbers")
    clinic.refresh_from_db()
    assert (clinic.name, clinic.timezone) == ("Bright Smile North", "Europe/Berlin")


def test_details_rejects_bad_input_and_stores_nothing(owner_client, clinic):
    response = owner_client.post(
        setup_url(clinic, "details"), {"name": "", "timezone": "Mars/Olympus"}
    )
    assert response.status_code == 400
    assert errors_for(response, "name")
    assert errors_for(response, "timezone")
    clinic.refresh_from_db()
    assert (clinic.name, clinic.timezone) == ("Bright Smile Dental", "UTC")


# --- phone numbers --------------------------------------------------------------------------


def test_add_number_normalises_to_e164(owner_client, clinic):
    response = owner_client.post(
        setup_url(clinic, "numbers"), {"e164": "+1 (415) 555-0100", "label": "Front desk"}
    )
    assert response["Location"] == setup_url(clinic, "numbers")
    phone = PhoneNumber.objects.for_clinic(clinic).get()
    assert (phone.e164, phone.label) == ("+14155550100", "Front desk")
    page = owner_client.get(setup_url(clinic, "numbers"))
    assert b"+14155550100" in page.content  # the remove form's value
    assert "+1 415 555 0100 added." in page.content.decode()  # as people read it


@pytest.mark.parametrize(
    "raw",
    ["4155550100", "+1 415 CALL NOW", "+999 123", "tel:+14155550100", ""],
)
def test_add_number_rejects_malformed_input_and_keeps_it(owner_client, clinic, raw):
    response = owner_client.post(setup_url(clinic, "numbers"), {"e164": raw, "label": "Desk"})
    assert response.status_code == 400
    assert errors_for(response, "e164")
    assert not PhoneNumber.objects.for_clinic(clinic).exists()
    assert 'value="Desk"' in response.content.decode()  # nothing lost


def test_number_owned_by_another_clinic_is_rejected_naming_the_field(owner_client, clinic):
    other = make_clinic(name="Rival Dental")
    phone_number_add(clinic=other, number="+14155550123")
    response = owner_client.post(setup_url(clinic, "numbers"), {"e164": "+1 415 555 0123"})
    assert response.status_code == 400
    [message] = errors_for(response, "e164")
    assert "already registered to another clinic" in message
    body = response.content.decode()
    assert 'id="id_e164_error"' in body and 'aria-invalid="true"' in body
    assert not PhoneNumber.objects.for_clinic(clinic).exists()
    assert PhoneNumber.objects.get(e164="+14155550123").clinic == other


def test_number_already_on_this_clinic_is_rejected(owner_client, clinic):
    phone_number_add(clinic=clinic, number="+14155550123")
    response = owner_client.post(setup_url(clinic, "numbers"), {"e164": "+14155550123"})
    assert response.status_code == 400
    assert "already one of this clinic's numbers" in errors_for(response, "e164")[0]


def test_remove_number(owner_client, clinic):
    phone_number_add(clinic=clinic, number="+14155550123")
    response = owner_client.post(
        reverse("tenants:number_remove", args=[clinic.slug]), {"e164": "+14155550123"}
    )
    assert response["Location"] == setup_url(clinic, "numbers")
    assert not PhoneNumber.objects.for_clinic(clinic).exists()


def test_removing_the_last_number_of_a_live_clinic_is_refused(owner_client, clinic):
    phone_number_add(clinic=clinic, number="+14155550123")
    Clinic.objects.filter(pk=clinic.pk).update(state=Clinic.State.LIVE)
    response = owner_client.post(
        reverse("tenants:number_remove", args=[clinic.slug]), {"e164": "+14155550123"}
    )
    assert response.status_code == 400
    assert b"A live clinic needs at least one number" in response.content
    assert PhoneNumber.objects.for_clinic(clinic).count() == 1


def test_cannot_remove_another_clinics_number(owner_client, clinic):
    other = make_clinic(name="Rival Dental")
    phone_number_add(clinic=other, number="+14155550123")
    response = owner_client.post(
        reverse("tenants:number_remove", args=[clinic.slug]), {"e164": "+14155550123"}
    )
    assert response.status_code == 400
    assert PhoneNumber.objects.for_clinic(other).count() == 1


# --- carrier settings -----------------------------------------------------------------------


def test_carrier_settings_save_addresses_and_auth(owner_client, clinic):
    response = owner_client.post(
        setup_url(clinic, "carrier"),
        {
            "allowed_addresses": "192.0.2.10\n\n 198.51.100.0/24 \nsip.carrier.example",
            "auth_username": "bright",
            "auth_password": SECRET,
            "krisp_enabled": "on",
        },
    )
    assert response["Location"] == setup_url(clinic, "agent")
    ts = TrunkSettings.objects.for_clinic(clinic).get()
    assert ts.allowed_addresses == ["192.0.2.10", "198.51.100.0/24", "sip.carrier.example"]
    assert (ts.auth_username, ts.auth_password, ts.krisp_enabled) == ("bright", SECRET, True)


def test_carrier_rejects_bad_address_and_stores_nothing(owner_client, clinic):
    response = owner_client.post(
        setup_url(clinic, "carrier"),
        {
            "allowed_addresses": "192.0.2.10\nnot an address!",
            "auth_username": "bright",
            "auth_password": SECRET,
        },
    )
    assert response.status_code == 400
    assert "not an IP address" in errors_for(response, "allowed_addresses")[0]
    ts = TrunkSettings.objects.for_clinic(clinic).get()
    assert (ts.allowed_addresses, ts.auth_username, ts.auth_password) == ([], "", "")
    assert "not an address!" in response.content.decode()  # the input is kept for fixing
    assert SECRET not in response.content.decode()


def test_carrier_username_without_password_names_the_password_field(owner_client, clinic):
    response = owner_client.post(setup_url(clinic, "carrier"), {"auth_username": "bright"})
    assert response.status_code == 400
    assert errors_for(response, "auth_password")


def test_sip_password_is_write_only(owner_client, clinic, viewer, client):
    owner_client.post(
        setup_url(clinic, "carrier"),
        {"allowed_addresses": "192.0.2.10", "auth_username": "bright", "auth_password": SECRET},
    )
    pages = [
        setup_url(clinic, step) for step in ("details", "numbers", "carrier", "agent", "review")
    ]
    pages += [dashboard_url(clinic), reverse("tenants:status", args=[clinic.slug])]
    for url in pages:
        body = owner_client.get(url).content.decode()
        assert SECRET not in body, url
    carrier = owner_client.get(setup_url(clinic, "carrier")).content.decode()
    assert "A password is set" in carrier
    # An error on another field must not echo the submitted password either.
    response = owner_client.post(
        setup_url(clinic, "carrier"),
        {
            "allowed_addresses": "bad address!",
            "auth_username": "bright",
            "auth_password": "new-" + SECRET,
        },
    )
    assert SECRET not in response.content.decode()


def test_blank_password_keeps_the_stored_one(owner_client, clinic):
    form = {"allowed_addresses": "", "auth_username": "bright", "auth_password": SECRET}
    owner_client.post(setup_url(clinic, "carrier"), form)
    owner_client.post(
        setup_url(clinic, "carrier"), {**form, "auth_password": "", "krisp_enabled": ""}
    )
    ts = TrunkSettings.objects.for_clinic(clinic).get()
    assert ts.auth_password == SECRET
    assert ts.krisp_enabled is False


def test_clearing_the_username_turns_auth_off(owner_client, clinic):
    form = {"allowed_addresses": "", "auth_username": "bright", "auth_password": SECRET}
    owner_client.post(setup_url(clinic, "carrier"), form)
    owner_client.post(setup_url(clinic, "carrier"), {"auth_username": "", "auth_password": ""})
    ts = TrunkSettings.objects.for_clinic(clinic).get()
    assert (ts.auth_username, ts.auth_password) == ("", "")


# --- agent settings -------------------------------------------------------------------------


def test_agent_form_starts_with_the_dental_default(owner_client, clinic):
    response = owner_client.get(setup_url(clinic, "agent"))
    assert "dental practice" in response.context["form"].initial["instructions"]
    assert "dental practice" in response.content.decode()


def test_agent_settings_save_and_bump_version(owner_client, clinic):
    before = Receptionist.objects.for_clinic(clinic).get().version
    response = owner_client.post(setup_url(clinic, "agent"), AGENT)
    assert response["Location"] == setup_url(clinic, "review")
    config = Receptionist.objects.for_clinic(clinic).get()
    assert config.version == before + 1
    assert (config.greeting, config.language, config.voice) == (
        "Hello from Bright Smile!",
        "en-GB",
        "sage",
    )
    assert (config.stt_model, config.llm_model, config.tts_model) == (
        "openai/whisper-1",
        "openai/gpt-4.1",
        "cartesia/sonic-2",
    )
    assert config.recording_consent_required is False


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("greeting", ""),
        ("greeting", "x" * 501),
        ("language", "xx-XX"),
        ("voice", "robot"),
        ("llm_model", "evil/model"),
        ("instructions", ""),
    ],
)
def test_agent_settings_reject_bad_input_and_store_nothing(owner_client, clinic, field, value):
    before = Receptionist.objects.for_clinic(clinic).get()
    response = owner_client.post(setup_url(clinic, "agent"), {**AGENT, field: value})
    assert response.status_code == 400
    assert errors_for(response, field)
    after = Receptionist.objects.for_clinic(clinic).get()
    assert (after.version, after.greeting) == (before.version, before.greeting)


def test_editing_a_live_clinic_reprovisions(
    owner_client, clinic, django_capture_on_commit_callbacks
):
    Clinic.objects.filter(pk=clinic.pk).update(state=Clinic.State.LIVE)
    generation = Provisioning.objects.for_clinic(clinic).get().generation
    with (
        mock.patch("telephony.publishing._publish") as publish,
        django_capture_on_commit_callbacks(execute=True),
    ):
        owner_client.post(setup_url(clinic, "agent"), AGENT)
    prov = Provisioning.objects.for_clinic(clinic).get()
    assert prov.generation == generation + 1
    assert prov.state == Provisioning.State.PENDING
    publish.assert_called_once_with(str(clinic.pk), False)


# --- review and go live ---------------------------------------------------------------------


def test_review_lists_everything_and_the_blockers(owner_client, clinic):
    response = owner_client.get(setup_url(clinic, "review"))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Add at least one phone number." in body
    assert clinic.room_prefix in body and "dental practice" in body
    assert response.context["blockers"] == ["Add at least one phone number."]


def test_go_live_is_blocked_without_a_number(owner_client, clinic):
    with mock.patch("telephony.publishing._publish") as publish:
        response = owner_client.post(reverse("tenants:go_live", args=[clinic.slug]))
    assert response.status_code == 400
    assert b"Add at least one phone number." in response.content
    clinic.refresh_from_db()
    assert clinic.state == Clinic.State.DRAFT
    publish.assert_not_called()


def test_go_live_is_blocked_for_an_unverified_email(client, settings):
    settings.REQUIRE_EMAIL_VERIFICATION = True
    user = UserFactory(email_verified_at=None)
    clinic = make_clinic(user, "Unverified Dental")
    phone_number_add(clinic=clinic, number="+14155550177")
    client.force_login(user)
    response = client.post(reverse("tenants:go_live", args=[clinic.slug]))
    assert response.status_code == 400
    assert b"Verify your email address" in response.content
    clinic.refresh_from_db()
    assert clinic.state == Clinic.State.DRAFT


def test_go_live_puts_the_clinic_live_and_enqueues_reconcile(
    owner_client, clinic, django_capture_on_commit_callbacks
):
    phone_number_add(clinic=clinic, number="+14155550100")
    with (
        mock.patch("telephony.publishing._publish") as publish,
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        response = owner_client.post(reverse("tenants:go_live", args=[clinic.slug]))
    assert response["Location"] == dashboard_url(clinic)
    clinic.refresh_from_db()
    assert clinic.state == Clinic.State.LIVE
    prov = Provisioning.objects.for_clinic(clinic).get()
    assert prov.state == Provisioning.State.PENDING
    assert prov.generation == prov.observed_generation + 1
    assert len(callbacks) == 1
    publish.assert_called_once_with(str(clinic.pk), False)


def test_go_live_twice_is_harmless(owner_client, clinic):
    phone_number_add(clinic=clinic, number="+14155550100")
    owner_client.post(reverse("tenants:go_live", args=[clinic.slug]))
    generation = Provisioning.objects.for_clinic(clinic).get().generation
    response = owner_client.post(reverse("tenants:go_live", args=[clinic.slug]))
    assert response["Location"] == dashboard_url(clinic)
    assert Provisioning.objects.for_clinic(clinic).get().generation == generation


def test_admin_member_can_edit(client, clinic, admin_member):
    client.force_login(admin_member)
    response = client.post(setup_url(clinic, "numbers"), {"e164": "+14155550100"})
    assert response.status_code == 302
    assert PhoneNumber.objects.for_clinic(clinic).count() == 1


def test_viewer_sees_steps_without_edit_controls(client, clinic, viewer):
    phone_number_add(clinic=clinic, number="+14155550100")
    client.force_login(viewer)
    for step in ("details", "numbers", "carrier", "agent", "review"):
        response = client.get(setup_url(clinic, step))
        assert response.status_code == 200, step
        body = response.content.decode()
        assert "view-only access" in body
        assert '<form method="post" novalidate' not in body, step
        assert "Go live</button>" not in body
        assert "Remove</button>" not in body


# --- onboarding polish: progress, error summary, presets, carrier help ------------------------


def test_setup_shows_how_many_steps_are_done(owner_client, clinic):
    body = owner_client.get(setup_url(clinic, "numbers")).content.decode()
    assert "<strong>2 of 5</strong> steps done" in body
    assert '<progress class="steps__bar" max="5" value="2"' in body


def test_an_invalid_field_is_listed_linked_and_focused(owner_client, clinic):
    response = owner_client.post(setup_url(clinic, "numbers"), {"e164": "4155550100"})
    body = response.content.decode()
    assert '<a href="#id_e164">Phone number</a>' in body
    field = response.context["form"]["e164"]
    assert field.field.widget.attrs.get("autofocus") is True
    assert "autofocus" not in response.context["form"]["label"].field.widget.attrs


def test_a_service_error_moves_the_focus_to_its_field(client):
    from tenants.forms import SignupForm

    form = SignupForm({"email": "a@b.example", "password": "x", "clinic_name": "C"})
    assert form.is_valid()
    assert form.fields["email"].widget.attrs.get("autofocus") is True  # the default
    form.add_error("clinic_name", "Taken.")
    assert "autofocus" not in form.fields["email"].widget.attrs
    assert form.fields["clinic_name"].widget.attrs["autofocus"] is True


def test_agent_step_offers_language_and_voice_presets(owner_client, clinic):
    body = owner_client.get(setup_url(clinic, "agent")).content.decode()
    for text in ("?preset=dental-es", "Clínica dental", "Spanish · Coral (warm)", "German"):
        assert text in body, text


def test_a_preset_fills_the_form_but_saves_nothing(owner_client, clinic):
    before = Receptionist.objects.for_clinic(clinic).get()
    response = owner_client.get(setup_url(clinic, "agent") + "?preset=dental-fr")
    initial = response.context["form"].initial
    assert initial["language"] == "fr-FR" and initial["voice"] == "alloy"
    assert (
        initial["greeting"] == f"Merci d'avoir appelé {clinic.name}. Comment puis-je vous aider ?"
    )
    assert "dental practice" in initial["instructions"] and "French" in initial["instructions"]
    assert 'aria-current="true"' in response.content.decode()
    after = Receptionist.objects.for_clinic(clinic).get()
    assert (after.version, after.language) == (before.version, before.language)


def test_an_unknown_preset_is_ignored(owner_client, clinic):
    response = owner_client.get(setup_url(clinic, "agent") + "?preset=nope")
    assert response.status_code == 200
    assert response.context["preset"] is None


def test_a_preset_saved_as_is_is_valid(owner_client, clinic):
    form = owner_client.get(setup_url(clinic, "agent") + "?preset=dental-de").context["form"]
    data = {**AGENT, **{k: v for k, v in form.initial.items() if k in AGENT}}
    data["recording_consent_required"] = "on"
    response = owner_client.post(setup_url(clinic, "agent"), data)
    assert response.status_code == 302
    config = Receptionist.objects.for_clinic(clinic).get()
    assert (config.language, config.voice) == ("de-DE", "ash")


def test_carrier_step_shows_the_values_to_enter_with_copy_buttons(owner_client, clinic, settings):
    settings.LIVEKIT_SIP_URI = "sip:abc123.sip.livekit.cloud;transport=tcp"
    phone_number_add(clinic=clinic, number="+14155550100")
    owner_client.post(
        setup_url(clinic, "carrier"),
        {"allowed_addresses": "192.0.2.10", "auth_username": "bright", "auth_password": SECRET},
    )
    body = owner_client.get(setup_url(clinic, "carrier")).content.decode()
    assert (
        '<code class="copy-value" id="cv-sip-uri">sip:abc123.sip.livekit.cloud;transport=tcp'
        in body
    )
    assert '<code class="copy-value" id="cv-sip-host">abc123.sip.livekit.cloud</code>' in body
    assert '<code class="copy-value" id="cv-sip-port">5060</code>' in body and "over TCP" in body
    assert 'id="cv-number-14155550100">+14155550100</code>' in body
    assert 'data-copy="cv-number-14155550100"' in body
    assert 'data-copy="cv-auth-username"' in body and "192.0.2.10" in body
    assert "Twilio Elastic SIP Trunking" in body and "Origination SIP URI" in body
    assert "Telnyx" in body and "+E.164" in body
    assert body.count('<details class="guide"') == 2
    assert body.count('<details class="advanced') == 1  # all of it for the IT person
    assert SECRET not in body
    assert "js/copy.js" in body
    # Without JavaScript the buttons stay hidden (copy.js shows them).
    assert 'data-copy="cv-sip-uri" data-label="SIP URI" hidden>' in body


def test_carrier_help_without_numbers_or_auth_says_what_to_do(owner_client, clinic):
    body = owner_client.get(setup_url(clinic, "carrier")).content.decode()
    assert "add your numbers</a> first" in body
    assert "Off <span" in body and "cv-auth-username" not in body
    assert "Any address." in body
