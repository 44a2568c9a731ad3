"""Two-factor sign-in: the code step, recovery codes, a lost phone, enrolment, the admin
for staff, an owner's clinic-wide rule, API tokens and the rate limit."""

from __future__ import annotations

import time

import pytest
from django.test import Client
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import AuditEntry
from tests.api_helpers import api_as, clinic_url
from tests.factories import UserFactory, add_member
from tests.twofactor_helpers import code_for, enrol
from twofactor import services

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery-9"


def password_step(client: Client, email: str, next_url: str = ""):
    url = "/login/" + (f"?next={next_url}" if next_url else "")
    return client.post(url, {"username": email, "password": PASSWORD})


def signed_in(client: Client) -> bool:
    return (
        client.get("/home/").status_code != 302 or "/login/" not in client.get("/home/")["Location"]
    )


@pytest.fixture
def no_backoff(settings):
    """django-otp makes each wrong code double the wait before the next try (tested below);
    tests that send a wrong code and then the right one turn the wait off."""
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    settings.OTP_STATIC_THROTTLE_FACTOR = 0


def test_an_enrolled_user_is_signed_in_only_after_a_code(owner, clinic, no_backoff):
    device = enrol(owner)
    client = Client()
    r = password_step(client, owner.email, f"/clinics/{clinic.slug}/")
    assert r.status_code == 302 and r["Location"] == "/login/code/"
    assert not signed_in(client)  # the password alone opened nothing
    r = client.post("/login/code/", {"code": "000000"})
    assert r.status_code == 400 and "did not work" in r.content.decode()
    assert not signed_in(client)
    r = client.post("/login/code/", {"code": code_for(device)})
    assert r.status_code == 302 and r["Location"] == f"/clinics/{clinic.slug}/"
    assert client.get(f"/clinics/{clinic.slug}/").status_code == 200


def test_a_user_without_two_factor_signs_in_with_the_password(owner):
    client = Client()
    r = password_step(client, owner.email)
    assert r.status_code == 302 and r["Location"] != "/login/code/"
    assert signed_in(client)


def test_a_recovery_code_works_once_and_leads_to_setting_up_again(owner):
    enrol(owner)
    code = StaticToken.objects.filter(device__user=owner).first().token
    client = Client()
    password_step(client, owner.email)
    r = client.post("/login/code/", {"code": code})
    assert r.status_code == 302 and r["Location"] == "/account/two-factor/"
    page = client.get(r["Location"]).content.decode()
    assert "recovery code (9 left)" in page
    # Lost phone: set up a new one from here (the session is verified by the recovery code).
    r = client.post("/account/two-factor/", {"action": "reset"})
    assert not TOTPDevice.objects.filter(user=owner, confirmed=True).exists()
    pending = TOTPDevice.objects.get(user=owner, confirmed=False)
    r = client.post("/account/two-factor/", {"action": "confirm", "code": code_for(pending)})
    assert r.status_code == 200 and "Your recovery codes" in r.content.decode()
    assert services.is_enrolled(owner) and services.recovery_codes_left(owner) == 10
    # The used recovery code is gone for good (new ones were made, too).
    other = Client()
    password_step(other, owner.email)
    assert other.post("/login/code/", {"code": code}).status_code == 400


def test_enrolment_shows_a_qr_code_and_refuses_a_wrong_code(owner, no_backoff):
    client = Client()
    password_step(client, owner.email)
    page = client.get("/account/two-factor/").content.decode()
    assert 'src="data:image/svg+xml' in page
    device = TOTPDevice.objects.get(user=owner, confirmed=False)
    assert services.secret_text(device) in page
    r = client.post("/account/two-factor/", {"action": "confirm", "code": "123"})
    assert r.status_code == 400 and not services.is_enrolled(owner)
    r = client.post("/account/two-factor/", {"action": "confirm", "code": code_for(device)})
    assert r.status_code == 200 and services.is_enrolled(owner)
    assert len(r.context["recovery_codes"]) == 10
    assert AuditEntry.objects.filter(event="two_factor.enable", actor=owner).exists()
    # Turning it off (allowed: no clinic requires it, not staff).
    r = client.post("/account/two-factor/", {"action": "off"})
    assert not services.is_enrolled(owner)


def test_the_code_step_is_rate_limited_like_the_password_step(owner, settings):
    settings.RATELIMIT_LOGIN_ACCOUNT = "3/m"
    enrol(owner)
    client = Client()
    password_step(client, owner.email)
    statuses = [client.post("/login/code/", {"code": "000000"}).status_code for _ in range(4)]
    assert statuses == [400, 400, 400, 429]


def test_a_wrong_code_makes_the_next_try_wait(owner):
    device = enrol(owner)
    client = Client()
    password_step(client, owner.email)
    r = client.post("/login/code/", {"code": "000000"})
    assert r.status_code == 400 and "did not work" in r.content.decode()
    r = client.post("/login/code/", {"code": code_for(device)})  # right, but too soon
    assert r.status_code == 400 and "wait" in r.content.decode().lower()
    assert not signed_in(client)


def test_the_code_step_expires(owner):
    enrol(owner)
    client = Client()
    password_step(client, owner.email)
    session = client.session
    session["twofactor_pending"] = {**session["twofactor_pending"], "at": time.time() - 301}
    session.save()
    r = client.post("/login/code/", {"code": "000000"})
    assert r.status_code == 302 and r["Location"] == "/login/"


def test_the_code_step_without_a_password_step_goes_to_sign_in(db):
    assert Client().get("/login/code/")["Location"] == "/login/"


# --- staff and the admin ----------------------------------------------------------------------


def test_staff_without_two_factor_are_refused_by_the_admin_and_sent_to_enrol(db):
    staff = UserFactory(email="ops@switchboard.example", is_staff=True, is_superuser=True)
    client = Client()
    r = client.get("/admin/login/?next=/admin/")
    assert r.status_code == 302 and r["Location"] == "/login/?next=%2Fadmin%2F"
    r = password_step(client, staff.email, "/admin/")
    assert r["Location"] == "/admin/"
    r = client.get("/admin/")
    assert r.status_code == 302 and r["Location"].startswith("/account/two-factor/?next=")
    assert client.get("/admin/tenants/clinic/").status_code == 302
    assert "Staff accounts need two-factor" in client.get(r["Location"]).content.decode()
    pending = TOTPDevice.objects.get(user=staff, confirmed=False)
    r = client.post(
        "/account/two-factor/",
        {"action": "confirm", "code": code_for(pending), "next": "/admin/"},
    )
    assert r.status_code == 200
    assert client.get("/admin/").status_code == 200
    # Staff cannot turn it off.
    r = client.post("/account/two-factor/", {"action": "off"})
    assert r.status_code == 400 and services.is_enrolled(staff)


def test_staff_reset_a_members_two_factor_in_admin(client, owner):
    enrol(owner)
    staff = UserFactory(email="root@switchboard.example", is_staff=True, is_superuser=True)
    client.force_login(staff)  # enrolled and verified by the test fixture
    r = client.post(
        "/admin/tenants/user/",
        {"action": "reset_two_factor", "_selected_action": [owner.pk]},
    )
    assert r.status_code == 302
    assert not services.is_enrolled(owner)
    entry = AuditEntry.objects.get(event="two_factor.reset")
    assert entry.actor == staff and entry.actor_kind == "staff"
    # The member signs in with the password alone again.
    fresh = Client()
    assert password_step(fresh, owner.email)["Location"] != "/login/code/"


def test_device_admins_are_not_offered_to_staff(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    assert client.get("/admin/otp_totp/totpdevice/").status_code == 404
    assert client.get("/admin/otp_static/staticdevice/").status_code == 404


# --- an owner's clinic-wide rule --------------------------------------------------------------


def test_an_owner_requires_two_factor_for_the_whole_team(owner, clinic, viewer):
    owner_client = Client()
    password_step(owner_client, owner.email)
    url = f"/clinics/{clinic.slug}/team/two-factor/"
    owner_client.post(url, {"required": "on"})
    assert not services.clinic_requires(clinic)  # the owner has no second factor yet
    device = enrol(owner)
    owner_client = Client()
    password_step(owner_client, owner.email)
    owner_client.post("/login/code/", {"code": code_for(device)})
    r = owner_client.post(url, {"required": "on"})
    assert r.status_code == 302 and services.clinic_requires(clinic)
    assert AuditEntry.objects.filter(clinic=clinic, event="clinic.two_factor_required").exists()
    assert owner_client.get(f"/clinics/{clinic.slug}/").status_code == 200

    # A viewer without a second factor is sent to set one up, on the web and the API.
    member = Client()
    password_step(member, viewer.email)
    r = member.get(f"/clinics/{clinic.slug}/")
    assert r.status_code == 302 and r["Location"].startswith("/account/two-factor/")
    r = api_as(viewer).get(clinic_url(clinic))
    assert r.status_code == 403 and "two-factor" in r.json()["detail"]
    # Once enrolled (and signed in with a code), the clinic opens again.
    viewer_device = enrol(viewer)
    member = Client()
    password_step(member, viewer.email)
    member.post("/login/code/", {"code": code_for(viewer_device)})
    assert member.get(f"/clinics/{clinic.slug}/").status_code == 200
    assert api_as(viewer).get(clinic_url(clinic)).status_code == 200
    # Members of a clinic that requires it cannot turn it off.
    r = member.post("/account/two-factor/", {"action": "off"})
    assert r.status_code == 400 and services.is_enrolled(viewer)


def test_only_owners_set_the_clinic_rule(client, clinic, admin_member):
    client.force_login(admin_member)
    r = client.post(f"/clinics/{clinic.slug}/team/two-factor/", {"required": "on"})
    assert r.status_code == 403 and not services.clinic_requires(clinic)


# --- API tokens -------------------------------------------------------------------------------


def test_an_api_token_needs_a_code_once_two_factor_is_on(owner, no_backoff):
    device = enrol(owner)
    client = Client()
    body = {"email": owner.email, "password": PASSWORD}
    r = client.post("/api/v1/auth/token", body, content_type="application/json")
    assert r.status_code == 400 and "code" in r.json()
    body["code"] = "000000"
    assert (
        client.post("/api/v1/auth/token", body, content_type="application/json").status_code == 400
    )
    body["code"] = code_for(device)
    r = client.post("/api/v1/auth/token", body, content_type="application/json")
    assert r.status_code == 200 and r.json()["token"]


def test_members_without_two_factor_see_an_unchanged_clinic(client, clinic, admin_member):
    add_member(clinic, "viewer", UserFactory(email="v2@bright.example"))
    client.force_login(admin_member)
    assert client.get(f"/clinics/{clinic.slug}/").status_code == 200
