"""A malformed Authorization header gets a 401 that says what is wrong (issue 20)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.api_helpers import user_token

pytestmark = pytest.mark.django_db
URL = "/api/v1/clinics/"


@pytest.fixture
def key(owner, clinic):
    return user_token(owner)


def get(header: str | None):
    client = APIClient()
    if header is not None:
        client.credentials(HTTP_AUTHORIZATION=header)
    return client.get(URL)


def test_a_well_formed_token_works(key, clinic):
    r = get(f"Token {key}")
    assert r.status_code == 200 and clinic.slug in str(r.json())


@pytest.mark.parametrize(
    ("header", "says"),
    [
        ("{key}", "the word Token is missing"),
        ("Bearer {key}", "Bearer is for agent service tokens"),
        ("Basic dXNlcjpwYXNz", "Unsupported Authorization scheme"),
    ],
)
def test_a_malformed_header_is_refused_with_the_fix(key, header, says):
    r = get(header.format(key=key))
    assert r.status_code == 401
    detail = r.json()["detail"]
    assert says in detail
    assert "Authorization: Token <your token>" in detail
    assert key not in detail  # never echoed back
    assert r["WWW-Authenticate"] == "Token"


def test_a_wrong_token_and_a_token_header_without_a_token_keep_drfs_answers(key):
    assert get("Token not-a-real-token").status_code == 401
    r = get("Token")
    assert r.status_code == 401 and "No credentials provided" in r.json()["detail"]


def test_no_header_still_asks_for_credentials():
    r = get(None)
    assert r.status_code == 401
    assert r.json()["detail"] == "Authentication credentials were not provided."
    assert r["WWW-Authenticate"] == "Token"


def test_the_web_apps_session_still_works_without_a_header(client, owner, clinic):
    client.force_login(owner)
    assert client.get(URL).status_code == 200
