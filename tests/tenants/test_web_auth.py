"""Landing, signup, sign-in/out, email verification and the home redirect."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from telephony.models import Provisioning, Receptionist, TrunkSettings
from tenants.models import Clinic, Membership, User
from tenants.services import verification_token
from tests.factories import UserFactory, add_member, make_clinic
from tests.tenants.web_helpers import dashboard_url, errors_for, setup_url

pytestmark = pytest.mark.django_db

SIGNUP = {
    "email": "dr.lee@smile.example",
    "password": "tooth-fairy-2931",
    "clinic_name": "Lee Dental",
}


def test_landing_explains_and_links_to_signup(client):
    response = client.get(reverse("tenants:landing"))
    assert response.status_code == 200
    assert b"AI receptionist" in response.content
    assert reverse("tenants:signup").encode() in response.content


def test_signup_creates_account_clinic_and_logs_in(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("tenants:signup"), SIGNUP)
    user = User.objects.get(email="dr.lee@smile.example")
    clinic = Clinic.objects.get(memberships__user=user)
    assert response.status_code == 302
    assert response["Location"] == setup_url(clinic, "details")
    assert clinic.name == "Lee Dental"
    assert Membership.objects.get(user=user).role == "owner"
    assert Provisioning.objects.for_clinic(clinic).exists()
    assert TrunkSettings.objects.for_clinic(clinic).exists()
    assert Receptionist.objects.for_clinic(clinic).exists()
    assert int(client.session["_auth_user_id"]) == user.pk
    assert len(mail.outbox) == 1
    assert "/verify-email/" in mail.outbox[0].body
    assert client.get(setup_url(clinic, "details")).status_code == 200


def test_signup_rejects_duplicate_email(client, owner):
    response = client.post(reverse("tenants:signup"), {**SIGNUP, "email": "OWNER@bright.example"})
    assert response.status_code == 400
    assert "already exists" in errors_for(response, "email")[0]
    assert not Clinic.objects.filter(name="Lee Dental").exists()
    assert "_auth_user_id" not in client.session


def test_signup_rejects_weak_password_and_keeps_other_input(client):
    response = client.post(reverse("tenants:signup"), {**SIGNUP, "password": "12345678"})
    assert response.status_code == 400
    assert errors_for(response, "password")
    assert not User.objects.filter(email=SIGNUP["email"]).exists()
    body = response.content.decode()
    assert 'value="dr.lee@smile.example"' in body
    assert 'value="Lee Dental"' in body
    assert "12345678" not in body  # passwords are never echoed back


def test_signup_rejects_empty_clinic_name(client):
    response = client.post(reverse("tenants:signup"), {**SIGNUP, "clinic_name": "   "})
    assert response.status_code == 400
    assert errors_for(response, "clinic_name")
    assert not User.objects.filter(email=SIGNUP["email"]).exists()


def test_signup_shows_a_service_error_next_to_clinic_name(client, monkeypatch):
    """A rule only the service knows still lands next to the field it names."""
    from django.core.exceptions import ValidationError

    def refuse(**kwargs):
        raise ValidationError({"clinic_name": "That name is reserved."})

    monkeypatch.setattr("tenants.views.auth.user_signup", refuse)
    response = client.post(reverse("tenants:signup"), SIGNUP)
    assert response.status_code == 400
    assert errors_for(response, "clinic_name") == ["That name is reserved."]


def test_signed_in_user_is_sent_home_from_signup(client, owner):
    client.force_login(owner)
    assert client.get(reverse("tenants:signup"))["Location"] == reverse("tenants:home")


def test_login_and_logout(client, owner, clinic):
    response = client.post(
        reverse("tenants:login"),
        {"username": "owner@bright.example", "password": "correct-horse-battery-9"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("tenants:home")
    assert int(client.session["_auth_user_id"]) == owner.pk
    assert client.get(reverse("tenants:home"))["Location"] == dashboard_url(clinic)

    assert client.get(reverse("tenants:logout")).status_code == 405  # a link cannot sign out
    response = client.post(reverse("tenants:logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_login_with_wrong_password_shows_an_error(client, owner):
    response = client.post(
        reverse("tenants:login"), {"username": owner.email, "password": "wrong-password"}
    )
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert (
        b"correct email" in response.content.lower()
        or b"enter a correct" in response.content.lower()
    )


def test_login_rotates_the_session_key(client, owner):
    client.get(reverse("tenants:login"))
    client.session.save()
    before = client.session.session_key
    client.post(
        reverse("tenants:login"), {"username": owner.email, "password": "correct-horse-battery-9"}
    )
    assert client.session.session_key != before


def test_verify_email_marks_the_user_verified(client):
    user = UserFactory(email_verified_at=None)
    response = client.get(reverse("tenants:verify_email", args=[verification_token(user)]))
    assert response.status_code == 200
    user.refresh_from_db()
    assert user.email_verified


def test_verify_email_rejects_a_tampered_token(client):
    user = UserFactory(email_verified_at=None)
    token = verification_token(user) + "x"
    response = client.get(reverse("tenants:verify_email", args=[token]))
    assert response.status_code == 400
    assert b"not valid" in response.content
    user.refresh_from_db()
    assert not user.email_verified


def test_unverified_user_sees_banner_and_can_resend(client, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    user = UserFactory(email_verified_at=None)
    clinic = make_clinic(user, "Resend Dental")
    client.force_login(user)
    page = client.get(dashboard_url(clinic))
    assert b"Confirm your email address" in page.content
    resend = reverse("tenants:verify_email_resend")
    response = client.post(resend, {"next": dashboard_url(clinic)})
    assert response["Location"] == dashboard_url(clinic)
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [user.email]
    client.post(resend)  # throttled: no second mail within a minute
    assert len(mail.outbox) == 1


def test_resend_ignores_an_offsite_next(client):
    client.force_login(UserFactory(email_verified_at=None))
    response = client.post(
        reverse("tenants:verify_email_resend"), {"next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("tenants:home")


def test_resend_requires_login_and_post(client, owner):
    url = reverse("tenants:verify_email_resend")
    assert client.post(url)["Location"].startswith(reverse("tenants:login"))
    client.force_login(owner)
    assert client.get(url).status_code == 405


def test_home_shows_a_picker_for_several_clinics(client, owner, clinic):
    second = make_clinic(owner, "Second Smile")
    client.force_login(owner)
    response = client.get(reverse("tenants:home"))
    assert response.status_code == 200
    body = response.content.decode()
    assert dashboard_url(clinic) in body and dashboard_url(second) in body


def test_home_hides_offboarded_clinics_and_other_tenants(client, owner, clinic, outsider):
    Clinic.objects.filter(pk=clinic.pk).update(state=Clinic.State.OFFBOARDED)
    client.force_login(owner)
    response = client.get(reverse("tenants:home"))
    assert response.status_code == 200
    assert response.context["memberships"] == []
    assert b"Other Dental" not in response.content


def test_home_can_create_another_clinic(client, owner, clinic):
    client.force_login(owner)
    response = client.post(reverse("tenants:home"), {"clinic_name": "Northside Dental"})
    new = Clinic.objects.get(name="Northside Dental")
    assert response["Location"] == setup_url(new, "details")
    assert Membership.objects.get(clinic=new).user == owner


def test_home_requires_login(client):
    assert client.get(reverse("tenants:home"))["Location"].startswith(reverse("tenants:login"))


def test_viewer_membership_lands_on_that_dashboard(client, clinic, viewer):
    client.force_login(viewer)
    assert client.get(reverse("tenants:home"))["Location"] == dashboard_url(clinic)


def test_member_of_two_clinics_sees_both(client, clinic, viewer):
    other = make_clinic(name="Third Dental")
    add_member(other, "admin", viewer)
    client.force_login(viewer)
    assert len(client.get(reverse("tenants:home")).context["memberships"]) == 2
