"""Sessions: a new key at sign-in, the old cookie dead after sign-out, and every other
session (and the API token) dead after a password change, this session kept."""

from __future__ import annotations

from importlib import import_module

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from tenants.models import ApiToken
from tests.api_helpers import api_as

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-9"  # tests.factories.UserFactory's
NEW_PASSWORD = "a-Brand-new-passw0rd!"
HOME = reverse("tenants:home")
LOGIN = reverse("tenants:login")


def store():
    return import_module(settings.SESSION_ENGINE).SessionStore


def cookie(client):
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def sign_in(email, password=PASSWORD):
    client = Client()
    r = client.post(LOGIN, {"username": email, "password": password})
    assert r.status_code == 302, "sign-in failed"
    return client


def with_cookie(key):
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = key
    return client


def signed_in(client):
    r = client.get(HOME)
    return not (r.status_code == 302 and r["Location"].startswith(LOGIN))


def test_the_session_key_changes_at_sign_in(owner):
    client = Client()
    session = client.session  # an anonymous session, as an attacker could plant one
    session["probe"] = "planted"
    session.save()
    planted = session.session_key
    client.cookies[settings.SESSION_COOKIE_NAME] = planted

    r = client.post(LOGIN, {"username": owner.email, "password": PASSWORD})

    assert r.status_code == 302
    assert cookie(client) != planted
    assert not store()().exists(planted)  # the old key is gone, not just unused
    assert signed_in(client)
    assert not signed_in(with_cookie(planted))


def test_the_old_session_cookie_is_refused_after_sign_out(owner):
    client = sign_in(owner.email)
    old = cookie(client)
    assert signed_in(with_cookie(old))

    r = client.post(reverse("tenants:logout"))

    assert r.status_code == 302
    assert not store()().exists(old)
    assert not signed_in(with_cookie(old))
    assert not signed_in(client)


def test_signing_out_takes_a_post(owner):
    client = sign_in(owner.email)
    assert client.get(reverse("tenants:logout")).status_code == 405
    assert signed_in(client)


def test_a_password_change_keeps_this_session_and_ends_every_other(owner):
    here, elsewhere = sign_in(owner.email), sign_in(owner.email)
    token_api = api_as(owner)
    assert token_api.get("/api/v1/clinics/").status_code == 200
    old_here = cookie(here)

    r = here.post(
        reverse("tenants:password_change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert r.status_code == 302 and r["Location"] == HOME
    assert signed_in(here)  # update_session_auth_hash kept this one...
    assert cookie(here) != old_here  # ...under a new key
    assert not signed_in(elsewhere)
    assert elsewhere.get("/api/v1/clinics/").status_code in (401, 403)  # session auth too
    assert token_api.get("/api/v1/clinics/").status_code == 401
    assert not ApiToken.objects.filter(user=owner).active().exists()
    assert sign_in(owner.email, NEW_PASSWORD)
    assert Client().post(LOGIN, {"username": owner.email, "password": PASSWORD}).status_code == 200


def test_a_wrong_old_password_changes_nothing(owner):
    here, elsewhere = sign_in(owner.email), sign_in(owner.email)
    r = here.post(
        reverse("tenants:password_change"),
        {"old_password": "wrong", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert r.status_code == 200 and r.context["form"].errors["old_password"]
    assert signed_in(elsewhere)
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)


def test_the_password_page_needs_sign_in_and_csrf(owner):
    r = Client().get(reverse("tenants:password_change"))
    assert r.status_code == 302 and r["Location"].startswith(LOGIN)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(owner)
    assert strict.get(reverse("tenants:password_change")).status_code == 200
    r = strict.post(
        reverse("tenants:password_change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert r.status_code == 403
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)
