"""Password reset: Django's views, the same answer for any address, single-use expiring links,
rate limits, and what a new password revokes (issue 18, decision 0022)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.test import Client
from django.urls import reverse

from tenants.api_tokens import api_token_create
from tenants.ratelimit import login_locked, record_login_failure
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

RESET = "/password-reset/"
NEW = "Another-l0ng-passphrase"
LINK_RE = re.compile(r"https?://[^/\s]+(/password-reset/[^/\s]+/[^/\s]+/)")


@pytest.fixture
def user():
    return UserFactory(email="forgot@clinic.example")


def ask(email, client=None, **extra):
    return (client or Client()).post(RESET, {"email": email}, **extra)


def link_from_last_email() -> str:
    return LINK_RE.search(mail.outbox[-1].body).group(1)


def test_the_answer_is_the_same_whether_or_not_the_address_has_an_account(user):
    known = ask("Forgot@Clinic.example")
    unknown = ask("nobody@clinic.example")
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"] == "/password-reset/sent/"
    assert [m.to for m in mail.outbox] == [["forgot@clinic.example"]]
    page = Client().get("/password-reset/sent/").content.decode()
    assert "If an account uses that address" in page


def test_the_link_resets_once_and_signs_in_nowhere_else(user, settings):
    settings.PUBLIC_BASE_URL = "https://switchboard.example"
    _, raw = api_token_create(user=user, name="script")
    ask(user.email, HTTP_HOST="localhost")
    assert "https://switchboard.example/password-reset/" in mail.outbox[-1].body
    assert "localhost" not in mail.outbox[-1].body
    link = link_from_last_email()
    browser = Client()
    r = browser.get(link)  # Django moves the token into the session first
    assert r.status_code == 302 and "set-password" in r["Location"]
    form = browser.get(r["Location"])
    assert b"Choose a new password" in form.content
    r = browser.post(r["Location"], {"new_password1": NEW, "new_password2": NEW})
    assert r["Location"] == "/password-reset/done/"
    user.refresh_from_db()
    assert user.check_password(NEW)
    api = Client(HTTP_AUTHORIZATION=f"Token {raw}")
    assert api.get("/api/v1/clinics/").status_code == 401  # tokens revoked
    # The same link a second time: refused, in plain words.
    again = Client()
    r = again.get(link, follow=True)
    assert b"This link no longer works" in r.content


def test_the_link_expires(user, settings, monkeypatch):
    settings.PASSWORD_RESET_TIMEOUT = 3600
    ask(user.email)
    link = link_from_last_email()
    later = datetime.now() + timedelta(seconds=3601)
    monkeypatch.setattr(default_token_generator, "_now", lambda: later)
    r = Client().get(link, follow=True)
    assert b"This link no longer works" in r.content


def test_asking_is_limited_per_client_and_per_address(user, settings):
    settings.RATELIMIT_PASSWORD_RESET = "3/h"
    settings.RATELIMIT_PASSWORD_RESET_EMAIL = "2/h"
    client = Client(REMOTE_ADDR="192.0.2.10")
    codes = [ask(user.email, client).status_code for _ in range(3)]
    assert codes == [302, 302, 302]
    assert len(mail.outbox) == 2  # the third asked for the same address: same answer, no email
    r = ask("someone@else.example", client)
    assert r.status_code == 429 and b"Too many" in r.content
    # From elsewhere, the address's own limit still holds (nothing sent), the answer the same.
    r = ask(user.email, Client(REMOTE_ADDR="198.51.100.9"))
    assert r.status_code == 302 and len(mail.outbox) == 2


def test_a_reset_clears_the_lockout_for_every_client(user, settings, rf):
    settings.LOGIN_LOCKOUT_FAILURES = 2
    attacker = rf.post("/login/", REMOTE_ADDR="192.0.2.66")
    for _ in range(2):
        record_login_failure(user.email, attacker)
    assert login_locked(user.email, attacker)
    ask(user.email)
    browser = Client()
    r = browser.get(link_from_last_email())
    browser.post(r["Location"], {"new_password1": NEW, "new_password2": NEW})
    assert not login_locked(user.email, attacker)


def test_the_sign_in_page_links_to_the_reset(client):
    page = client.get(reverse("tenants:login")).content.decode()
    assert 'href="/password-reset/"' in page and "Forgot your password?" in page
