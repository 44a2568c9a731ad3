"""Oversized and malformed bodies get a clear 4xx, never a 500, and store nothing."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from telephony.models import PhoneNumber

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(owner):
    client = APIClient()
    client.force_authenticate(owner)
    return client


def test_a_body_over_the_limit_is_refused_before_parsing(api, clinic, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    body = json.dumps({"e164": "+14155550100", "label": "x" * 100_000})
    r = api.post(f"/api/v1/clinics/{clinic.slug}/numbers/", body, content_type="application/json")
    assert r.status_code == 413 and "larger than" in r.json()["detail"]
    assert not PhoneNumber.objects.exists()


def test_a_web_form_over_the_limit_is_refused(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    r = client.post(
        "/signup/", {"email": "a@b.example", "clinic_name": "x" * 5000, "password": "p"}
    )
    assert r.status_code == 413


@pytest.mark.parametrize(
    "body",
    [
        "{",  # truncated JSON
        "[]",  # wrong top-level type
        '"string"',
        '{"e164": {"nested": [1, 2, 3]}}',
        '{"e164": "+14155550100", "label": 12}',
        "\x00\x01\x02",
        "[" * 5000 + "]" * 5000,  # deep nesting
    ],
)
def test_malformed_json_gets_a_400(api, clinic, body):
    r = api.post(f"/api/v1/clinics/{clinic.slug}/numbers/", body, content_type="application/json")
    assert r.status_code == 400
    assert not PhoneNumber.objects.exists()


def test_a_wrong_content_type_gets_a_415(api, clinic):
    r = api.post(
        f"/api/v1/clinics/{clinic.slug}/numbers/", "e164=+14155550100", content_type="text/plain"
    )
    assert r.status_code == 415


def test_an_api_url_that_matches_nothing_answers_json(api, clinic):
    r = api.delete(f"/api/v1/clinics/{clinic.slug}/members/not-a-number/")
    assert r.status_code == 404 and r.json() == {"detail": "Not found."}
    page = api.get("/no-such-page/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")
