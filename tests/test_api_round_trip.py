"""GET a resource, PUT (or PATCH) the same body back: 200 and nothing changes; a read-only
field sent back changed gets a 400 that names it (issue 18). The table must cover every
PUT and PATCH operation in the schema."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator

from frontdesk.models import Message
from telephony.models import CarrierAccount, Provisioning, Receptionist
from telephony.services import phone_number_add, trunk_settings_update
from tests.api_helpers import api_as, clinic_url, number_url
from webhooks.services import endpoint_create

pytestmark = pytest.mark.django_db


def _writable_operations() -> set[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {
        (method, path)
        for path, ops in schema["paths"].items()
        for method in ops
        if method in ("put", "patch")
    }


@pytest.fixture
def resources(clinic, owner, viewer):
    """(method, schema path, resource URL, how to GET the resource, a read-only field and a
    changed value for it)."""
    trunk_settings_update(
        clinic=clinic, auth_username="carrier", auth_password="pw-0123456789", allowed_addresses=[]
    )
    api = api_as(owner)
    members = clinic_url(clinic, "members/")

    def member():
        return next(m for m in api.get(members).json() if m["user_id"] == viewer.pk)

    def get(url):
        return lambda: api.get(url).json()

    endpoint, _ = endpoint_create(
        clinic=clinic, url="https://hooks.example.com/in", chosen=["call.ended"]
    )
    hook = clinic_url(clinic, f"webhook-endpoints/{endpoint.pk}/")
    CarrierAccount.objects.create(
        clinic=clinic, provider="twilio", account_sid="AC" + "1" * 32, secret="stored-token-123"
    )
    carrier = clinic_url(clinic, "carrier/")
    confirmation = clinic_url(clinic, "carrier/confirmation/")
    phone_number_add(clinic=clinic, number="+14155550100", label="Front desk")
    line = clinic_url(clinic, f"receptionists/{Receptionist.objects.first_of(clinic).pk}/")

    def number():
        return api.get(clinic_url(clinic, "numbers/")).json()[0]

    hours = clinic_url(clinic, "hours/")
    api.put(
        hours,
        {
            "weekly": [{"day": 0, "opens": "09:00", "closes": "17:00"}],
            "closures": [{"date": "2026-12-25", "reason": "Christmas"}],
        },
        format="json",
    )
    info = clinic_url(clinic, "clinic-info/")
    api.patch(
        info,
        {"services": ["Check-ups"], "faqs": [{"question": "Q?", "answer": "A."}]},
        format="json",
    )
    after = clinic_url(
        clinic, f"receptionists/{Receptionist.objects.first_of(clinic).pk}/after-hours/"
    )
    message = Message.objects.create(
        clinic=clinic,
        room_name="x",
        caller_number="+14155550199",
        caller_last4="0199",
        reason="Call me",
        idempotency_key="k",
        body_hash="x",
    )
    message_url = clinic_url(clinic, f"messages/{message.pk}/")
    location = api.post(
        clinic_url(clinic, "locations/"),
        {
            "name": "Downtown",
            "hours": {
                "weekly": [{"day": 1, "opens": "08:00", "closes": "12:00"}],
                "closures": [],
            },
        },
        format="json",
    ).json()
    location_url = clinic_url(clinic, f"locations/{location['id']}/")
    api.patch(line, {"location": location["id"]}, format="json")
    email = clinic_url(clinic, "messages/email/")
    own = clinic_url(clinic, "livekit-project/")

    return api, [
        ("patch", "/api/v1/clinics/{slug}/", clinic_url(clinic), get(clinic_url(clinic)),
         "state", "live"),
        ("put", "/api/v1/clinics/{slug}/agent/", clinic_url(clinic, "agent/"),
         get(clinic_url(clinic, "agent/")), "version", 99),
        ("put", "/api/v1/clinics/{slug}/trunk-settings/", clinic_url(clinic, "trunk-settings/"),
         get(clinic_url(clinic, "trunk-settings/")), "auth_password_set", False),
        ("patch", "/api/v1/clinics/{slug}/members/{user_id}/",
         clinic_url(clinic, f"members/{viewer.pk}/"), member, "email", "x@y.example"),
        ("patch", "/api/v1/clinics/{slug}/webhook-endpoints/{endpoint_id}/", hook, get(hook),
         "created_at", "2020-01-01T00:00:00Z"),
        ("put", "/api/v1/clinics/{slug}/carrier/", carrier, get(carrier), "state",
         "credentials_rejected"),
        ("put", "/api/v1/clinics/{slug}/carrier/confirmation/", confirmation, get(confirmation),
         "confirmed_at", "2020-01-01T00:00:00Z"),
        ("patch", "/api/v1/clinics/{slug}/receptionists/{receptionist_id}/", line, get(line),
         "version", 99),
        ("patch", "/api/v1/clinics/{slug}/numbers/{e164}/", number_url(clinic, "+14155550100"),
         number, "label", "Back office"),
        # No read-only fields: everything in these answers can be changed.
        ("put", "/api/v1/clinics/{slug}/hours/", hours, get(hours), None, None),
        ("patch", "/api/v1/clinics/{slug}/clinic-info/", info, get(info), None, None),
        ("patch", "/api/v1/clinics/{slug}/receptionists/{receptionist_id}/after-hours/", after,
         get(after), None, None),
        ("patch", "/api/v1/clinics/{slug}/messages/{message_id}/", message_url, get(message_url),
         "reason", "Changed"),
        ("patch", "/api/v1/clinics/{slug}/locations/{location_id}/", location_url,
         get(location_url), "receptionists", []),
        ("patch", "/api/v1/clinics/{slug}/messages/email/", email, get(email), None, None),
        ("put", "/api/v1/clinics/{slug}/livekit-project/", own, get(own), "state", "in_use"),
    ]  # fmt: skip


def test_the_table_covers_every_put_and_patch(resources):
    _, rows = resources
    assert {(method, path) for method, path, *_ in rows} == _writable_operations()


def test_what_a_get_returns_can_be_put_back_unchanged(resources, clinic):
    api, rows = resources
    generation = Provisioning.objects.get(clinic=clinic).generation
    version = Receptionist.objects.get(clinic=clinic).version
    failures = []
    for method, path, url, read, _, _ in rows:
        before = read()
        r = getattr(api, method)(url, before, format="json")
        if r.status_code != 200 or read() != before:
            failures.append((method, path, r.status_code, r.json(), before, read()))
    assert failures == []
    assert Provisioning.objects.get(clinic=clinic).generation == generation  # no re-provision
    assert Receptionist.objects.get(clinic=clinic).version == version


def test_a_changed_read_only_field_is_refused_by_name(resources):
    api, rows = resources
    for method, path, url, read, field, changed in rows:
        if field is None:
            continue
        before = read()
        r = getattr(api, method)(url, {**before, field: changed}, format="json")
        assert r.status_code == 400, (path, r.content)
        assert "read-only" in r.json()[field][0], (path, r.json())
        assert read() == before


def test_the_trunk_password_flag_says_what_to_do(resources):
    api, rows = resources
    url = rows[2][2]
    r = api.put(url, {"auth_password_set": False}, format="json")
    assert r.json() == {
        "auth_password_set": [
            "This field is read-only (it is true); it says whether a SIP password is stored; "
            "send auth_password to set one, or a blank auth_username to remove both."
        ]
    }
