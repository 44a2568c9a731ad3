"""Control characters in names are refused everywhere; an invitation whose email failed says
so and can be re-sent (issue 18)."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse

from telephony.services import phone_number_add, trunk_settings_update
from tenants import team
from tenants.models import Clinic, Invitation
from tenants.services import clinic_create, clinic_update
from tests.api_helpers import api_as, clinic_url
from tests.tenants.conftest import LINK_RE
from tests.tenants.web_helpers import errors_for, setup_url

pytestmark = pytest.mark.django_db

BAD_NAMES = ["Bright\r\nBcc: x@evil.example", "Bright\x00", "Bright\tSmile", "Bri\x1bght", "A\x85B"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_services_refuse_control_characters_in_names(owner, clinic, name):
    with pytest.raises(ValidationError) as err:
        clinic_create(owner=owner, name=name)
    assert "plain text" in err.value.message_dict["clinic_name"][0]
    with pytest.raises(ValidationError) as err:
        clinic_update(clinic=clinic, name=name)
    assert "name" in err.value.message_dict
    with pytest.raises(ValidationError) as err:
        phone_number_add(clinic=clinic, number="+14155550100", label=name)
    assert "label" in err.value.message_dict
    with pytest.raises(ValidationError) as err:
        trunk_settings_update(clinic=clinic, auth_username=name)
    assert "auth_username" in err.value.message_dict
    clinic.refresh_from_db()
    assert clinic.name == "Bright Smile Dental"


def test_the_signup_page_refuses_a_name_with_a_line_break(client, settings):
    settings.RATELIMIT_ENABLE = False
    r = client.post(
        reverse("tenants:signup"),
        {"email": "n@x.example", "password": "a-Long-passw0rd!", "clinic_name": "A\r\nB"},
    )
    assert r.status_code == 400
    assert "one line of plain text" in " ".join(errors_for(r, "clinic_name"))
    assert not Clinic.objects.filter(memberships__user__email="n@x.example").exists()


def test_the_details_page_refuses_a_name_with_a_line_break(client, owner, clinic):
    client.force_login(owner)
    r = client.post(setup_url(clinic, "details"), {"name": "A\r\nB", "timezone": "UTC"})
    assert r.status_code in (200, 400)
    assert "one line of plain text" in " ".join(errors_for(r, "name"))
    clinic.refresh_from_db()
    assert clinic.name == "Bright Smile Dental"


def test_the_api_refuses_a_name_with_a_line_break(owner, clinic):
    r = api_as(owner).patch(clinic_url(clinic), {"name": "A\r\nB"}, format="json")
    assert r.status_code == 400 and "one line" in r.json()["name"][0]


def test_an_old_name_with_a_line_break_no_longer_breaks_the_invitation_email(owner, clinic, invite):
    """The finding: such a name was stored, and every invitation email then failed (an email
    subject may not contain a line break) while the invitation showed as sent."""
    Clinic.objects.filter(pk=clinic.pk).update(name="Bright\r\nSmile")
    invitation, _ = invite(on=Clinic.objects.get(pk=clinic.pk))
    assert mail.outbox[-1].subject == "Join Bright Smile on Switchboard"
    invitation.refresh_from_db()
    assert invitation.email_status == "sent"


@pytest.fixture
def smtp_down(settings):
    """A real SMTP backend pointed at a port where nothing listens."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 2
    return settings


def test_a_failed_invitation_email_shows_and_can_be_re_sent(
    client, owner, clinic, smtp_down, django_capture_on_commit_callbacks
):
    client.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(
            reverse("tenants:team_invite", args=[clinic.slug]),
            {"email": "new@bright.example", "role": "viewer"},
        )
    assert r.status_code == 302
    invitation = Invitation.objects.get(email="new@bright.example")
    assert invitation.email_status == "failed"

    page = client.get(reverse("tenants:team", args=[clinic.slug])).content.decode()
    assert "The email to new@bright.example could not be sent" in page
    assert reverse("tenants:team_invitation_resend", args=[clinic.slug, invitation.pk]) in page
    listed = api_as(owner).get(clinic_url(clinic, "invitations/")).json()
    assert [i["email_status"] for i in listed] == ["failed"]

    smtp_down.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    old_hash = invitation.token_hash
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(
            reverse("tenants:team_invitation_resend", args=[clinic.slug, invitation.pk])
        )
    assert r.status_code == 302
    invitation.refresh_from_db()
    assert invitation.email_status == "sent" and invitation.token_hash != old_hash
    token = LINK_RE.findall(mail.outbox[-1].body)[-1]
    assert team.invitation_for_token(token) == invitation
    page = client.get(reverse("tenants:team", args=[clinic.slug])).content.decode()
    assert "could not be sent" not in page


def test_re_send_over_the_api(owner, clinic, viewer, invite, django_capture_on_commit_callbacks):
    invitation, first_token = invite()
    url = clinic_url(clinic, f"invitations/{invitation.pk}/resend/")
    assert api_as(viewer).post(url).status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        r = api_as(owner).post(url)
    assert r.status_code == 200 and r.json()["email"] == invitation.email
    assert team.invitation_for_token(first_token) is None
    assert team.invitation_for_token(LINK_RE.findall(mail.outbox[-1].body)[-1]) == invitation
    team.invitation_revoke(invitation=invitation, actor=owner)
    r = api_as(owner).post(url)
    assert r.status_code == 400 and "revoked" in str(r.json())
