"""The HTTP API: full responses, the three parties, bad input, enqueue on commit."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from telephony import publishing, services
from telephony.models import PhoneNumber, Provisioning, Receptionist, TrunkSettings
from tests.factories import UserFactory, make_clinic

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    c = APIClient()
    c.force_authenticate(user)
    return c


@pytest.fixture
def published(monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(publishing, "_publish", lambda cid, verify: calls.append(cid))
    return calls


def url(clinic, tail: str = "") -> str:
    return f"/api/v1/clinics/{clinic.slug}/{tail}"


def test_signup_then_token_then_clinic_list():
    anon = APIClient()
    r = anon.post(
        "/api/v1/signup",
        {
            "email": "Ana@Clinic.Example",
            "password": "a-Long-passw0rd!",
            "clinic_name": "Ana Dental",
        },
        format="json",
    )
    assert r.status_code == 201, r.json()
    body = r.json()
    assert body["user"]["email"] == "ana@clinic.example"
    assert body["user"]["email_verified"] is False
    assert body["clinic"]["role"] == "owner" and body["clinic"]["state"] == "draft"
    assert body["token"].startswith("sbu_") and len(body["token"]) == 47

    r = anon.post(
        "/api/v1/auth/token",
        {"email": "ana@clinic.example", "password": "a-Long-passw0rd!"},
        format="json",
    )
    # Another token (only hashes are stored); both work.
    assert r.json()["token"] != body["token"] and r.json()["name"] == "auth/token"
    anon.credentials(HTTP_AUTHORIZATION=f"Token {r.json()['token']}")
    assert anon.get("/api/v1/clinics/").status_code == 200
    anon.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
    (clinic,) = anon.get("/api/v1/clinics/").json()
    assert clinic == body["clinic"]


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({}, {"email", "password", "clinic_name"}),
        ({"email": "x", "password": "a-Long-passw0rd!", "clinic_name": "X"}, {"email"}),
        ({"email": "a@b.example", "password": "123", "clinic_name": "X"}, {"password"}),
        ({"email": "a@b.example", "password": "a-Long-passw0rd!", "clinic_name": "x" * 121}, {"clinic_name"}),
        ({"email": "a@b.example", "password": "a-Long-passw0rd!", "clinic_name": "X", "role": "owner"}, {"role"}),
        ({"email": ["a@b.example"], "password": "a-Long-passw0rd!", "clinic_name": "X"}, {"email"}),
    ],
)  # fmt: skip
def test_signup_bad_input_names_the_field_and_stores_nothing(payload, fields):
    r = APIClient().post("/api/v1/signup", payload, format="json")
    assert r.status_code == 400
    assert set(r.json()) == fields
    assert not PhoneNumber.objects.exists()


def test_wrong_password_gets_a_400_sentence():
    UserFactory(email="b@clinic.example")
    r = APIClient().post(
        "/api/v1/auth/token", {"email": "b@clinic.example", "password": "nope"}, format="json"
    )
    assert r.status_code == 400 and "not right" in r.json()["non_field_errors"][0]


def test_numbers_are_normalised_listed_and_deleted(clinic, owner):
    api = client_for(owner)
    r = api.post(
        url(clinic, "numbers/"), {"e164": "+1 (415) 555-0100", "label": "Front desk"}, format="json"
    )
    assert r.status_code == 201
    assert r.json()["e164"] == "+14155550100" and r.json()["label"] == "Front desk"
    assert [n["e164"] for n in api.get(url(clinic, "numbers/")).json()] == ["+14155550100"]
    assert api.delete(url(clinic, f"numbers/{quote('+14155550100')}/")).status_code == 204
    assert api.delete(url(clinic, "numbers/+14155550100/")).status_code == 404


@pytest.mark.parametrize(
    "raw",
    ["", "4155550100", "+1 415 CALL NOW", "tel:+14155550100", "+14155550100 x12", "＋14155550100",
     "+1415555\x000100", "\u202e+14155550100", "5" * 10_000, "*", 14155550100, None, ["+1"]],
)  # fmt: skip
def test_malformed_numbers_get_400_naming_e164_and_nothing_goes_upstream(
    clinic, owner, published, raw
):
    services.clinic_go_live  # the clinic is a draft: nothing would be enqueued anyway
    r = client_for(owner).post(url(clinic, "numbers/"), {"e164": raw}, format="json")
    assert r.status_code == 400 and "e164" in r.json()
    assert not PhoneNumber.objects.exists() and published == []


def test_a_number_of_another_clinic_is_refused(clinic, owner):
    other = make_clinic(UserFactory(), "Other")
    services.phone_number_add(clinic=other, number="+14155550100")
    r = client_for(owner).post(url(clinic, "numbers/"), {"e164": "+14155550100"}, format="json")
    assert r.status_code == 400
    assert "another clinic" in r.json()["e164"][0]


def test_trunk_settings_password_is_write_only(clinic, owner):
    api = client_for(owner)
    r = api.put(
        url(clinic, "trunk-settings/"),
        {
            "allowed_addresses": ["192.0.2.0/24"],
            "auth_username": "carrier",
            "auth_password": "pa55-word-secret",
        },
        format="json",
    )
    assert r.status_code == 200
    assert r.json() == {
        "allowed_addresses": ["192.0.2.0/24"],
        "auth_username": "carrier",
        "auth_password_set": True,
        "krisp_enabled": True,
    }
    assert "pa55-word-secret" not in api.get(url(clinic, "trunk-settings/")).content.decode()
    r = api.put(url(clinic, "trunk-settings/"), {"allowed_addresses": ["nope nope"]}, format="json")
    assert r.status_code == 400 and "allowed_addresses" in r.json()
    assert TrunkSettings.objects.get(clinic=clinic).auth_password == "pa55-word-secret"


def test_agent_settings_bump_the_version(clinic, owner):
    api = client_for(owner)
    r = api.put(url(clinic, "agent/"), {"greeting": "Hi!", "voice": "ash"}, format="json")
    assert r.status_code == 200
    assert (r.json()["greeting"], r.json()["voice"], r.json()["version"]) == ("Hi!", "ash", 2)
    r = api.put(url(clinic, "agent/"), {"language": "xx-XX", "tts_model": 3}, format="json")
    assert r.status_code == 400 and set(r.json()) == {"language", "tts_model"}
    assert Receptionist.objects.get(clinic=clinic).version == 2


def test_go_live_is_refused_with_a_sentence_then_accepted_and_enqueued(
    clinic, owner, published, django_capture_on_commit_callbacks
):
    api = client_for(owner)
    r = api.post(url(clinic, "go-live/"))
    assert r.status_code == 400 and "phone number" in r.json()["non_field_errors"][0]

    services.phone_number_add(clinic=clinic, number="+14155550100")
    with django_capture_on_commit_callbacks(execute=True):
        r = api.post(url(clinic, "go-live/"))
    assert r.status_code == 202 and r.json()["state"] == "pending"
    assert published == [str(clinic.pk)]

    status = api.get(url(clinic, "provisioning/")).json()
    assert status["state"] == "pending" and status["generation"] == 1
    assert status["room_prefix"] == clinic.room_prefix and status["clinic_state"] == "live"
    assert [e["action"] for e in status["events"]] == ["requested"]


def test_offboard_is_owner_only(clinic, owner, admin_member, published):
    assert client_for(admin_member).post(url(clinic, "offboard/")).status_code == 403
    assert client_for(owner).post(url(clinic, "offboard/")).status_code == 202
    assert Provisioning.objects.get(clinic=clinic).clinic.state == "offboarded"


ENDPOINTS = [
    ("get", ""),
    ("patch", ""),
    ("get", "numbers/"),
    ("post", "numbers/"),
    ("delete", "numbers/+14155550100/"),
    ("get", "trunk-settings/"),
    ("put", "trunk-settings/"),
    ("get", "agent/"),
    ("put", "agent/"),
    ("post", "go-live/"),
    ("post", "offboard/"),
    ("post", "retry/"),
    ("get", "provisioning/"),
]


@pytest.mark.parametrize(("method", "tail"), ENDPOINTS)
def test_outsiders_get_404_and_anonymous_401(clinic, outsider, method, tail):
    services.phone_number_add(clinic=clinic, number="+14155550100")
    r = getattr(client_for(outsider), method)(url(clinic, tail), {}, format="json")
    assert r.status_code == 404
    assert clinic.name not in r.content.decode()
    r = getattr(APIClient(), method)(url(clinic, tail), {}, format="json")
    assert r.status_code == 401
    assert PhoneNumber.objects.filter(clinic=clinic).count() == 1


@pytest.mark.parametrize(("method", "tail"), [e for e in ENDPOINTS if e[0] != "get"])
def test_viewers_may_not_change_anything(clinic, viewer, method, tail):
    services.phone_number_add(clinic=clinic, number="+14155550100")
    r = getattr(client_for(viewer), method)(url(clinic, tail), {"greeting": "x"}, format="json")
    assert r.status_code == 403
    assert Receptionist.objects.get(clinic=clinic).version == 1
    assert PhoneNumber.objects.filter(clinic=clinic).count() == 1


@pytest.mark.parametrize(("method", "tail"), [e for e in ENDPOINTS if e[0] == "get"])
def test_viewers_may_read(clinic, viewer, method, tail):
    assert client_for(viewer).get(url(clinic, tail)).status_code == 200


def test_the_schema_is_valid_and_docs_are_served_locally(client):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")
    page = client.get("/api/docs/").content.decode()
    assert "swagger" in page.lower()
    assert "cdn" not in page.lower() and "unpkg" not in page.lower()
