"""POST /api/v1/signup and POST /api/v1/auth/token, and how the token authenticates."""

from __future__ import annotations

import pytest
from django.core import mail

from telephony.models import Provisioning, Receptionist, TrunkSettings
from tenants.api_tokens import hash_token
from tenants.models import ApiToken, Clinic, Membership, User
from tests.api_helpers import API, api_as, iso
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SIGNUP = f"{API}/signup"
TOKEN = f"{API}/auth/token"
GOOD = {"email": "New@Clinic.Example", "password": "a-Long-passw0rd!", "clinic_name": "Happy Teeth"}


def test_signup_creates_user_clinic_owner_membership_and_token(api_client, settings):
    r = api_client.post(SIGNUP, GOOD, format="json")

    assert r.status_code == 201, r.content
    user = User.objects.get()
    clinic = Clinic.objects.get()
    assert r.json() == {
        "user": {"id": user.pk, "email": "new@clinic.example", "email_verified": False},
        "clinic": {
            "id": str(clinic.pk),
            "name": "Happy Teeth",
            "slug": clinic.slug,
            "room_prefix": clinic.room_prefix,
            "timezone": "UTC",
            "state": "draft",
            "role": "owner",
            "region": "",  # the default project's (one-project deployment: no label)
            "sip_uri": settings.LIVEKIT_SIP_URI,
            "created_at": iso(clinic.created_at),
        },
        "token": r.json()["token"],
    }
    assert ApiToken.objects.get(user=user).token_hash == hash_token(r.json()["token"])
    assert clinic.slug.startswith("happy-teeth-")
    assert Membership.objects.get().role == "owner"
    assert Provisioning.objects.filter(clinic=clinic).exists()
    assert TrunkSettings.objects.filter(clinic=clinic).exists()
    assert Receptionist.objects.filter(clinic=clinic).exists()
    assert user.check_password(GOOD["password"])
    assert "password" not in r.content.decode()


def test_signup_sends_the_verification_email(api_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        api_client.post(SIGNUP, GOOD, format="json")
    assert [m.to for m in mail.outbox] == [["new@clinic.example"]]


def test_the_signup_token_authenticates(api_client):
    token = api_client.post(SIGNUP, GOOD, format="json").json()["token"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    r = api_client.get(f"{API}/clinics/")
    assert r.status_code == 200
    assert [c["name"] for c in r.json()] == ["Happy Teeth"]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({}, "email", "required"),
        ({**GOOD, "email": "not-an-email"}, "email", "valid email"),
        ({**GOOD, "email": 42}, "email", "JSON string"),
        ({**GOOD, "email": "a" * 250 + "@x.example"}, "email", "254"),
        ({**GOOD, "password": "short"}, "password", "too short"),
        ({**GOOD, "password": "password123"}, "password", "too common"),
        ({**GOOD, "password": ["a-Long-passw0rd!"]}, "password", "JSON string"),
        ({**GOOD, "clinic_name": ""}, "clinic_name", "blank"),
        ({**GOOD, "clinic_name": "x" * 121}, "clinic_name", "120"),
        ({**GOOD, "clinic_name": None}, "clinic_name", "null"),
        ({**GOOD, "clinic_name": "Bad\x00Name"}, "clinic_name", "control character"),
        # A lone surrogate cannot be encoded by the test client: send the JSON text itself.
        (
            '{"email": "a@b.example", "password": "a-Long-passw0rd!", "clinic_name": "B\\ud800"}',
            "clinic_name",
            "lone UTF-16 surrogate",
        ),
        ({**GOOD, "is_staff": True}, "is_staff", "Unknown field; remove it"),
        ({**GOOD, "clinic": "x"}, "clinic", "Unknown field; remove it"),
    ],
)
def test_signup_bad_input_names_the_field_and_stores_nothing(api_client, body, field, words):
    if isinstance(body, str):
        r = api_client.post(SIGNUP, body, content_type="application/json")
    else:
        r = api_client.post(SIGNUP, body, format="json")

    assert r.status_code == 400, r.content
    assert field in r.json(), r.json()
    assert words in " ".join(r.json()[field]), r.json()
    assert not User.objects.exists() and not Clinic.objects.exists()


def test_signup_with_a_taken_email_is_refused(api_client):
    UserFactory(email="new@clinic.example")
    r = api_client.post(SIGNUP, GOOD, format="json")
    assert r.status_code == 400
    assert r.json() == {"email": ["An account with this email already exists; sign in instead."]}
    assert not Clinic.objects.exists()


@pytest.mark.parametrize(
    ("payload", "content_type"),
    [
        ("[1, 2]", "application/json"),
        ("{not json", "application/json"),
        ('"x"', "application/json"),
    ],
)
def test_signup_refuses_bodies_that_are_not_a_json_object(api_client, payload, content_type):
    r = api_client.post(SIGNUP, payload, content_type=content_type)
    assert r.status_code == 400
    assert set(r.json()) <= {"non_field_errors", "detail"}


def test_signup_refuses_form_encoding(api_client):
    r = api_client.post(SIGNUP, GOOD)  # multipart
    assert r.status_code == 415


def test_token_for_email_and_password(api_client, owner):
    r = api_client.post(
        TOKEN,
        {"email": "OWNER@bright.example", "password": "correct-horse-battery-9"},
        format="json",
    )
    assert r.status_code == 200
    token = ApiToken.objects.get(user=owner)
    assert token.token_hash == hash_token(r.json()["token"]) and token.name == "auth/token"
    assert r.json()["id"] == token.pk and r.json()["expires_at"]
    # Asking again makes another token (only hashes are stored: the first cannot be shown).
    again = api_client.post(
        TOKEN,
        {"email": "owner@bright.example", "password": "correct-horse-battery-9", "name": "cron"},
        format="json",
    )
    assert again.json()["token"] != r.json()["token"] and again.json()["name"] == "cron"
    assert ApiToken.objects.filter(user=owner).count() == 2


@pytest.mark.parametrize(
    "body",
    [
        {"email": "owner@bright.example", "password": "wrong"},
        {"email": "nobody@bright.example", "password": "correct-horse-battery-9"},
    ],
)
def test_token_with_wrong_credentials_is_400_with_a_sentence(api_client, owner, body):
    r = api_client.post(TOKEN, body, format="json")
    assert r.status_code == 400
    assert r.json() == {
        "non_field_errors": [
            "The email or the password is not right; check both (the password is case-sensitive)."
        ]
    }
    assert not ApiToken.objects.exists()


def test_token_for_an_inactive_user_is_refused(api_client, owner):
    owner.is_active = False
    owner.save()
    r = api_client.post(
        TOKEN,
        {"email": "owner@bright.example", "password": "correct-horse-battery-9"},
        format="json",
    )
    assert r.status_code == 400


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "owner@bright.example"}, "password"),
        ({"email": "owner@bright.example", "password": 123}, "password"),
        ({"email": "owner@bright.example", "password": "x", "otp": "1"}, "otp"),
    ],
)
def test_token_bad_input_names_the_field(api_client, owner, body, field):
    r = api_client.post(TOKEN, body, format="json")
    assert r.status_code == 400
    assert list(r.json()) == [field]


def test_anonymous_gets_401_with_the_token_scheme(api_client, clinic):
    r = api_client.get(f"{API}/clinics/")
    assert r.status_code == 401
    assert r["WWW-Authenticate"] == "Token"
    assert r.json() == {"detail": "Authentication credentials were not provided."}


def test_a_bad_token_gets_401(api_client, clinic):
    api_client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    r = api_client.get(f"{API}/clinics/")
    assert r.status_code == 401
    assert r.json() == {"detail": "Invalid token."}


def test_session_authentication_works_for_the_web_app(client, owner, clinic):
    client.force_login(owner)
    r = client.get(f"{API}/clinics/")
    assert r.status_code == 200
    assert [c["slug"] for c in r.json()] == [clinic.slug]


def test_a_token_client_helper_smoke(owner, clinic):
    assert api_as(owner).get(f"{API}/clinics/").status_code == 200
