"""Abuse limits: signup and sign-in rates per IP and per account, lockout, clear 429s."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tenants.models import User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-9"


def signup(client: APIClient, n: int, **extra: str):
    return client.post(
        "/api/v1/signup",
        {
            "email": f"flood{n}@spam.example",
            "password": "a-Long-passw0rd!",
            "clinic_name": f"Flood {n}",
        },
        format="json",
        **extra,
    )


def test_signup_is_limited_per_ip_with_a_clear_429(settings):
    settings.RATELIMIT_SIGNUP = "3/h"
    api = APIClient()
    assert [signup(api, n).status_code for n in range(3)] == [201, 201, 201]
    r = signup(api, 3)
    assert r.status_code == 429
    assert "Too many requests" in r.json()["detail"] and r["Retry-After"]
    assert User.objects.count() == 3


def test_a_forged_forwarded_for_does_not_bypass_the_limit(settings):
    settings.RATELIMIT_SIGNUP = "2/h"
    api = APIClient()
    codes = [signup(api, n, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code for n in range(4)]
    assert codes == [201, 201, 429, 429]


def test_forwarded_for_counts_per_client_behind_a_trusted_proxy(settings):
    settings.RATELIMIT_SIGNUP = "1/h"
    settings.TRUSTED_PROXIES = ["127.0.0.1/32"]
    api = APIClient()
    first = signup(api, 0, HTTP_X_FORWARDED_FOR="198.51.100.1", REMOTE_ADDR="127.0.0.1")
    other = signup(api, 1, HTTP_X_FORWARDED_FOR="198.51.100.2", REMOTE_ADDR="127.0.0.1")
    again = signup(api, 2, HTTP_X_FORWARDED_FOR="198.51.100.1", REMOTE_ADDR="127.0.0.1")
    assert (first.status_code, other.status_code, again.status_code) == (201, 201, 429)


def test_the_web_signup_page_answers_429_with_a_page(settings):
    settings.RATELIMIT_SIGNUP = "1/h"
    client = Client()
    data = {"email": "w@spam.example", "password": "a-Long-passw0rd!", "clinic_name": "W"}
    client.post("/signup/", data)
    client.logout()
    r = client.post("/signup/", {**data, "email": "w2@spam.example"})
    assert r.status_code == 429 and b"Too many" in r.content


def _token(api, email, password, ip="192.0.2.66"):
    return api.post(
        "/api/v1/auth/token", {"email": email, "password": password}, format="json",
        REMOTE_ADDR=ip,
    )  # fmt: skip


def test_repeated_failures_lock_that_client_out_of_that_account_everywhere(settings):
    settings.LOGIN_LOCKOUT_FAILURES = 3
    user = UserFactory(email="victim@clinic.example")
    api = APIClient()
    for _ in range(3):
        assert _token(api, user.email, "guess").status_code == 400
    # From the attacker's client even the right password is refused, on the API and the web.
    r = _token(api, user.email, PASSWORD)
    assert r.status_code == 429 and "failed sign-ins" in r.json()["detail"]
    assert "/password-reset/" in r.json()["detail"]
    r = Client(REMOTE_ADDR="192.0.2.66").post(
        "/login/", {"username": user.email, "password": PASSWORD}
    )
    assert r.status_code == 429 and b"failed sign-ins" in r.content
    # Another account is not affected.
    other = UserFactory(email="other@clinic.example")
    assert _token(api, other.email, PASSWORD).status_code == 200


def test_the_owner_is_not_locked_out_by_someone_else_s_failures(settings):
    """The finding: five wrong passwords from anyone locked the owner out for 15 minutes."""
    settings.LOGIN_LOCKOUT_FAILURES = 3
    user = UserFactory(email="owner@lockout.example")
    attacker = APIClient()
    for _ in range(10):
        assert _token(attacker, user.email, "guess").status_code in (400, 429)
    owner = APIClient()
    assert _token(owner, user.email, PASSWORD, ip="198.51.100.20").status_code == 200
    web = Client(REMOTE_ADDR="198.51.100.20")
    r = web.post("/login/", {"username": user.email, "password": PASSWORD})
    assert r.status_code == 302
    # The attacker's client is still refused.
    assert _token(attacker, user.email, PASSWORD).status_code == 429


def test_sign_in_attempts_are_limited_per_account(settings):
    settings.RATELIMIT_LOGIN_ACCOUNT = "2/m"
    settings.LOGIN_LOCKOUT_FAILURES = 100
    user = UserFactory(email="busy@clinic.example")
    api = APIClient()
    codes = [_token(api, user.email, "x").status_code for _ in range(3)]
    assert codes == [400, 400, 429]
    # Per account and client: the owner elsewhere still gets through.
    assert _token(api, user.email, PASSWORD, ip="198.51.100.21").status_code == 200
