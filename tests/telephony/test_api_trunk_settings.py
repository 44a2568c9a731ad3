"""GET|PUT /clinics/{slug}/trunk-settings/: the SIP password is write-only."""

from __future__ import annotations

import pytest
from django.db import connection

from telephony.models import Provisioning, TrunkSettings
from tenants.models import Clinic
from tests.api_helpers import api_as, clinic_url

pytestmark = pytest.mark.django_db

SECRET = "s3cret-SIP-pa55word"


def _url(clinic: Clinic) -> str:
    return clinic_url(clinic, "trunk-settings/")


def test_defaults(clinic, viewer):
    r = api_as(viewer).get(_url(clinic))
    assert r.status_code == 200
    assert r.json() == {
        "allowed_addresses": [],
        "auth_username": "",
        "auth_password_set": False,
        "krisp_enabled": True,
    }


def test_put_stores_the_password_encrypted_and_never_returns_it(clinic, owner):
    body = {
        "allowed_addresses": ["192.0.2.10", "198.51.100.0/24", "SIP.Carrier.example"],
        "auth_username": "bright",
        "auth_password": SECRET,
        "krisp_enabled": False,
    }
    r = api_as(owner).put(_url(clinic), body, format="json")

    expected = {
        "allowed_addresses": ["192.0.2.10", "198.51.100.0/24", "sip.carrier.example"],
        "auth_username": "bright",
        "auth_password_set": True,
        "krisp_enabled": False,
    }
    assert r.status_code == 200, r.content
    assert r.json() == expected
    assert SECRET not in r.content.decode()
    got = api_as(owner).get(_url(clinic))
    assert got.json() == expected
    assert SECRET not in got.content.decode()
    assert TrunkSettings.objects.get(clinic=clinic).auth_password == SECRET
    with connection.cursor() as cur:
        cur.execute(
            "SELECT auth_password FROM telephony_trunksettings WHERE clinic_id = %s", [clinic.pk]
        )
        (stored,) = cur.fetchone()
    assert stored and SECRET not in stored


def test_blank_or_absent_password_keeps_the_stored_one(clinic, owner):
    client = api_as(owner)
    client.put(_url(clinic), {"auth_username": "bright", "auth_password": SECRET}, format="json")

    r1 = client.put(_url(clinic), {"auth_username": "bright2", "auth_password": ""}, format="json")
    r2 = client.put(_url(clinic), {"krisp_enabled": False}, format="json")

    assert r1.status_code == r2.status_code == 200
    assert r2.json()["auth_password_set"] is True
    ts = TrunkSettings.objects.get(clinic=clinic)
    assert (ts.auth_username, ts.auth_password) == ("bright2", SECRET)


def test_clearing_the_username_removes_the_password(clinic, owner):
    client = api_as(owner)
    client.put(_url(clinic), {"auth_username": "bright", "auth_password": SECRET}, format="json")
    r = client.put(_url(clinic), {"auth_username": ""}, format="json")
    assert r.json()["auth_password_set"] is False
    assert TrunkSettings.objects.get(clinic=clinic).auth_password == ""


def test_a_username_without_a_password_is_refused(clinic, owner):
    r = api_as(owner).put(_url(clinic), {"auth_username": "bright"}, format="json")
    assert r.status_code == 400
    assert r.json() == {
        "auth_password": ["Set a password for the SIP username, or clear the username."]
    }


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"allowed_addresses": ["not an address!"]}, "allowed_addresses", "not an IP address"),
        ({"allowed_addresses": "192.0.2.1"}, "allowed_addresses", "list"),
        ({"allowed_addresses": [1]}, "allowed_addresses", "JSON string"),
        ({"allowed_addresses": ["192.0.2.1"] * 21}, "allowed_addresses", "no more than 20"),
        ({"allowed_addresses": ["a" * 101]}, "allowed_addresses", "no more than 100"),
        ({"auth_username": "u" * 121, "auth_password": "x"}, "auth_username", "no more than 120"),
        ({"auth_username": "u", "auth_password": 1234}, "auth_password", "JSON string"),
        ({"krisp_enabled": "yes"}, "krisp_enabled", "JSON boolean"),
        ({"krisp_enabled": 1}, "krisp_enabled", "JSON boolean"),
        ({"auth_password_set": True}, "auth_password_set", "read-only"),
        ({"password": "x"}, "password", "Unknown field"),
    ],
)
def test_bad_input_names_the_field_and_changes_nothing(clinic, owner, body, field, words):
    r = api_as(owner).put(_url(clinic), body, format="json")
    assert r.status_code == 400, r.content
    assert words in str(r.json()[field]), r.json()
    ts = TrunkSettings.objects.get(clinic=clinic)
    assert (ts.allowed_addresses, ts.auth_username, ts.krisp_enabled) == ([], "", True)


def test_a_change_to_a_live_clinic_reprovisions(clinic, owner):
    Clinic.objects.filter(pk=clinic.pk).update(state=Clinic.State.LIVE)
    r = api_as(owner).put(_url(clinic), {"allowed_addresses": ["192.0.2.1"]}, format="json")
    assert r.status_code == 200
    assert Provisioning.objects.get(clinic=clinic).generation == 1


def test_error_bodies_never_echo_the_password(clinic, owner):
    r = api_as(owner).put(
        _url(clinic), {"auth_password": SECRET, "allowed_addresses": ["bad address"]}, format="json"
    )
    assert r.status_code == 400
    assert SECRET not in r.content.decode()


def test_viewer_cannot_put(clinic, viewer):
    r = api_as(viewer).put(_url(clinic), {"krisp_enabled": False}, format="json")
    assert r.status_code == 403
    assert TrunkSettings.objects.get(clinic=clinic).krisp_enabled is True


def test_outsider_gets_404(clinic, outsider):
    client = api_as(outsider)
    assert client.get(_url(clinic)).status_code == 404
    assert client.put(_url(clinic), {"krisp_enabled": False}, format="json").status_code == 404
    assert TrunkSettings.objects.get(clinic=clinic).krisp_enabled is True
