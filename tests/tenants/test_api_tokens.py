"""API tokens hashed at rest, named, expiring, listed and revoked by their owner (decision
0020); the plain DRF tokens of before are hashed by a data migration and keep working."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from tenants.api_tokens import api_token_create, hash_token
from tenants.models import ApiToken
from tests.api_helpers import api_as
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery-9"


def _with(raw):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return client


def _dump() -> str:
    """Every row of every table, as a database dump would hold them."""
    out = []
    with connection.cursor() as cur:
        for table in connection.introspection.table_names():
            cur.execute(f'SELECT * FROM "{table}"')
            out.append(repr(cur.fetchall()))
    return "\n".join(out)


def test_a_database_dump_contains_no_usable_token(client, owner, clinic, settings):
    settings.RATELIMIT_ENABLE = False
    from rest_framework.test import APIClient

    anon = APIClient()
    made = [
        anon.post(
            "/api/v1/signup",
            {"email": "n@x.example", "password": "a-Long-passw0rd!", "clinic_name": "New"},
            format="json",
        ).json()["token"],
        anon.post(
            "/api/v1/auth/token", {"email": owner.email, "password": PASSWORD}, format="json"
        ).json()["token"],
        api_as(owner).post("/api/v1/tokens/", {"name": "cron"}, format="json").json()["token"],
    ]
    client.force_login(owner)
    page = client.post(reverse("tenants:api_tokens"), {"name": "web", "expires_in_days": "30"})
    made.append(page.context["new_token"])
    dump = _dump()
    for raw in made:
        assert raw.startswith("sbu_") and len(raw) > 40
        assert raw not in dump and raw[12:] not in dump  # not even the secret part
        assert hash_token(raw) in dump  # only its SHA-256
        assert _with(raw).get("/api/v1/clinics/").status_code == 200


def test_an_expired_or_revoked_token_gets_a_401_saying_which(owner, clinic):
    token, raw = api_token_create(user=owner, name="old", days=1)
    assert _with(raw).get("/api/v1/clinics/").status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    r = _with(raw).get("/api/v1/clinics/")
    assert r.status_code == 401 and "expired" in r.json()["detail"]

    token, raw = api_token_create(user=owner, name="gone")
    r = api_as(owner).delete(f"/api/v1/tokens/{token.pk}/")
    assert r.status_code == 204
    r = _with(raw).get("/api/v1/clinics/")
    assert r.status_code == 401 and "revoked" in r.json()["detail"]
    assert _with("sbu_" + "x" * 43).get("/api/v1/clinics/").json() == {"detail": "Invalid token."}


def test_owners_list_and_revoke_only_their_own(owner, outsider):
    mine, _ = api_token_create(user=owner, name="mine")
    theirs, their_raw = api_token_create(user=outsider, name="theirs")
    r = api_as(owner).get("/api/v1/tokens/")
    names = [t["name"] for t in r.json()]
    assert "mine" in names and "theirs" not in names
    listed = next(t for t in r.json() if t["name"] == "mine")
    assert set(listed) == {
        "id", "name", "prefix", "status", "created_at", "expires_at", "last_used_at", "revoked_at"
    }  # fmt: skip
    assert listed["prefix"] == mine.prefix and len(mine.prefix) == 12
    assert api_as(owner).delete(f"/api/v1/tokens/{theirs.pk}/").status_code == 404
    assert _with(their_raw).get("/api/v1/clinics/").status_code == 200


def test_a_token_is_named_and_expires(owner):
    r = api_as(owner).post(
        "/api/v1/tokens/", {"name": "nightly export", "expires_in_days": 7}, format="json"
    )
    assert r.status_code == 201
    token = ApiToken.objects.get(pk=r.json()["id"])
    assert token.name == "nightly export"
    assert timedelta(days=6, hours=23) < token.expires_at - timezone.now() <= timedelta(days=7)
    for body, field in [
        ({"name": ""}, "name"),
        ({"name": "a\nb"}, "name"),
        ({"name": "x", "expires_in_days": 0}, "expires_in_days"),
        ({"name": "x", "expires_in_days": 99999}, "expires_in_days"),
    ]:
        r = api_as(owner).post("/api/v1/tokens/", body, format="json")
        assert r.status_code == 400 and field in r.json(), (body, r.json())


def test_the_web_page_shows_a_new_token_once_and_revokes(client, owner):
    client.force_login(owner)
    r = client.post(reverse("tenants:api_tokens"), {"name": "backup", "expires_in_days": "90"})
    raw = r.context["new_token"]
    assert raw in r.content.decode()
    page = client.get(reverse("tenants:api_tokens")).content.decode()
    assert raw not in page and "backup" in page and raw[:12] in page
    token = ApiToken.objects.get(user=owner, name="backup")
    r = client.post(reverse("tenants:api_token_revoke", args=[token.pk]))
    assert r.status_code == 302
    assert _with(raw).get("/api/v1/clinics/").status_code == 401
    other = UserFactory()
    theirs, _ = api_token_create(user=other, name="x")
    assert client.post(reverse("tenants:api_token_revoke", args=[theirs.pk])).status_code == 404


def test_plain_tokens_from_before_are_hashed_and_still_work(owner, clinic):
    """DRF's authtoken table as it was (key in plain text): the data migration hashes every
    key into an ApiToken, empties the table, and the old key still opens the API."""
    old_key = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"
    with connection.cursor() as cur:
        cur.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, "
            "created timestamp with time zone NOT NULL, user_id integer NOT NULL UNIQUE)"
        )
        cur.execute("INSERT INTO authtoken_token VALUES (%s, now(), %s)", [old_key, owner.pk])
    migration = importlib.import_module("tenants.migrations.0006_api_tokens")
    with connection.schema_editor() as editor:
        migration.hash_plain_tokens(apps, editor)
    assert old_key not in _dump()
    token = ApiToken.objects.get(user=owner)
    assert token.prefix == old_key[:6] and token.expires_at is None
    assert _with(old_key).get("/api/v1/clinics/").status_code == 200


def test_staff_see_a_name_and_a_prefix_only(client, owner):
    token, raw = api_token_create(user=owner, name="billing export")
    staff = UserFactory(email="staff@switchboard.example", is_staff=True, is_superuser=True)
    client.force_login(staff)
    listing = client.get("/admin/tenants/apitoken/").content.decode()
    assert "billing export" in listing and token.prefix in listing
    assert raw not in listing and raw[12:] not in listing and token.token_hash not in listing
    page = client.get(f"/admin/tenants/apitoken/{token.pk}/change/").content.decode()
    assert raw not in page and token.token_hash not in page
    # Searching by the token finds nothing: staff cannot test a token they were handed.
    found = client.get("/admin/tenants/apitoken/", {"q": raw}).content.decode()
    assert "billing export" not in found
    assert client.get("/admin/tenants/apitoken/add/").status_code == 403
    assert client.get("/admin/authtoken/").status_code == 404  # DRF's plain-token admin: gone
