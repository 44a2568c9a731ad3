"""Oversized and malformed bodies get a clear 4xx, never a 500, and store nothing."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from frontdesk.models import Location, Message
from telephony.models import PhoneNumber, Receptionist
from telephony.services import phone_number_add
from webhooks.services import endpoint_create

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


# --- every field of every endpoint that takes a body ---------------------------------------
#
# Each row: the operation, a body that is valid apart from the field under test, and the
# fields. Every field gets a lone surrogate, control characters and an overlong string and
# must answer 400 naming that field (issue 18: a lone surrogate in a choice field was a 500).

SURROGATES = ["\ud800", "ok\udfffok", "\udc00\ud800"]
CONTROLS = ["\x00", "a\x1b[31mb", "\x7f", "x\x85y"]
NEWLINES = ["Bright\r\nBcc: x@evil.example", "tab\there", "\n", " \t "]
OVERLONG = "x" * 100_001  # one more than the longest field (a transcript)


def _endpoints(clinic, member_id, invitation_id, hook_id, line_id, message_id, location_id):
    c = f"/api/v1/clinics/{clinic.slug}/"
    hook = {"url": "https://hooks.example.com/in", "events": ["call.ended"]}
    agent_fields = ["agent_name", "greeting", "instructions", "language", "voice"]
    agent_fields += ["stt_model", "llm_model", "tts_model"]
    return [
        ("post", "/api/v1/signup", {"email": "n@x.example", "password": "a-Long-passw0rd!",
                                    "clinic_name": "New"}, ["email", "password", "clinic_name"]),
        ("post", "/api/v1/auth/token", {"email": "n@x.example", "password": "p"},
         ["email", "password", "name", "expires_in_days"]),
        ("post", "/api/v1/tokens/", {"name": "script"}, ["name", "expires_in_days"]),
        ("post", "/api/v1/clinics/", {"name": "Second", "timezone": "UTC"}, ["name", "timezone"]),
        ("patch", c, {}, ["name", "timezone", "room_prefix"]),
        ("put", c + "agent/", {}, agent_fields),
        ("post", c + "receptionists/", {"name": "Spanish line"},
         ["name", "location", *agent_fields]),
        ("patch", f"{c}receptionists/{line_id}/", {}, ["name", "location", *agent_fields]),
        ("patch", f"{c}numbers/%2B14155550188/", {"receptionist": line_id}, ["receptionist"]),
        ("post", c + "invitations/", {"email": "i@x.example"}, ["email", "role"]),
        ("post", c + "members/", {"email": "i@x.example"}, ["email", "role"]),
        ("patch", f"{c}members/{member_id}/", {"role": "viewer"}, ["role"]),
        ("post", c + "numbers/", {"e164": "+14155550100"}, ["e164", "label"]),
        ("post", c + "test-call/", {"from": "+14155550123"}, ["from"]),
        ("put", c + "trunk-settings/", {}, ["allowed_addresses", "auth_username",
                                            "auth_password"]),
        ("put", c + "carrier/", {"provider": "telnyx"}, ["provider", "account_sid", "auth_token",
                                                         "api_key_sid", "api_key_secret",
                                                         "api_key"]),
        ("post", c + "carrier/purchases/", {"e164": "+14155550150", "confirm_cost": True},
         ["e164", "idempotency_key", "monthly_cost", "currency"]),
        ("post", c + "carrier/releases/", {"e164": "+14155550150", "confirm_release": True},
         ["e164"]),
        ("post", c + "offboard/", {}, ["release_bought_numbers"]),
        ("put", c + "livekit-project/",
         {"url": "https://x.example", "api_key": "k", "sip_uri": "sip:x.example"},
         ["url", "api_key", "api_secret", "sip_uri", "webhook_key", "webhook_secret"]),
        ("put", c + "carrier/confirmation/", {"confirmed": True}, ["confirmed"]),
        ("post", "/api/v1/invitations/accept", {"token": "t"}, ["token"]),
        ("post", "/api/v1/agent/calls/room_1_x/outcome", {"consent": "granted",
                                                          "outcome": "other"},
         ["consent", "outcome", "summary", "transcript", "consent_at"]),
        ("post", c + "webhook-endpoints/", hook, ["url", "events", "enabled"]),
        ("patch", f"{c}webhook-endpoints/{hook_id}/", {}, ["url", "events", "enabled"]),
        ("put", c + "hours/", {"weekly": [], "closures": []}, ["timezone", "weekly", "closures"]),
        ("patch", c + "clinic-info/", {}, ["address", "directions", "services", "insurers",
                                          "languages", "emergency_number", "faqs"]),
        ("patch", f"{c}receptionists/{line_id}/after-hours/", {},
         ["action", "greeting", "instructions", "route_to"]),
        ("patch", f"{c}messages/{message_id}/", {"handled": True}, ["handled"]),
        ("patch", c + "messages/email/", {"email_owners_and_admins": True},
         ["email_owners_and_admins"]),
        ("post", c + "locations/", {"name": "Uptown"}, ["name", "address", "directions",
                                                         "hours"]),
        ("patch", f"{c}locations/{location_id}/", {}, ["name", "address", "directions",
                                                        "hours"]),
        ("post", "/api/v1/agent/messages",
         {"room": f"{clinic.room_prefix}_+14155550199_x", "reason": "Call me"},
         ["room", "caller_name", "callback_number", "reason", "urgency"]),
    ]  # fmt: skip


ONE_LINE = {"email", "clinic_name", "name", "timezone", "room_prefix", "label", "e164"}
ONE_LINE |= {"auth_username", "agent_name", "role", "language", "voice", "token", "from"}
ONE_LINE |= {"stt_model", "llm_model", "tts_model", "consent", "outcome", "consent_at"}
ONE_LINE |= {"allowed_addresses", "expires_in_days", "url", "events", "enabled"}
ONE_LINE |= {"provider", "account_sid", "auth_token", "api_key_sid", "api_key_secret", "api_key"}
ONE_LINE |= {"weekly", "closures", "services", "insurers", "languages", "emergency_number"}
ONE_LINE |= {"faqs", "action", "route_to", "handled", "room", "caller_name", "callback_number"}
ONE_LINE |= {"urgency", "email_owners_and_admins", "location", "hours"}
ONE_LINE |= {"idempotency_key", "monthly_cost", "currency"}
ONE_LINE |= {"sip_uri", "api_secret", "webhook_key", "webhook_secret"}
ONE_LINE |= {"confirmed"}


def _bad_values(field):
    values = SURROGATES + CONTROLS + [OVERLONG]
    if field in ONE_LINE:
        values += NEWLINES
    return values


@pytest.fixture
def every_endpoint(transactional_db, owner, clinic, viewer, settings):
    """In real transactions: test-call/ is not wrapped in the request's transaction, and its
    400s would otherwise mark the test's own transaction for rollback."""
    from telephony.agent_tokens import agent_token_create
    from tenants import team

    settings.RATELIMIT_ENABLE = False
    invitation = team.invitation_create(
        clinic=clinic, actor=owner, email="pending@x.example", role="viewer"
    )
    _, agent_secret = agent_token_create(name="agent")
    hook, _ = endpoint_create(
        clinic=clinic, url="https://hooks.example.com/in", chosen=["call.ended"]
    )
    phone_number_add(clinic=clinic, number="+14155550188")
    line = Receptionist.objects.first_of(clinic)
    message = Message.objects.create(
        clinic=clinic, room_name="x", reason="Call me", idempotency_key="k", body_hash="x"
    )
    location = Location.objects.create(clinic=clinic, name="Downtown")
    rows = _endpoints(clinic, viewer.pk, invitation.pk, hook.pk, line.pk, message.pk, location.pk)
    return rows, agent_secret


def _client_for(path, owner, agent_secret):
    client = APIClient()
    if path.startswith("/api/v1/agent/"):
        client.credentials(
            HTTP_AUTHORIZATION=f"Bearer {agent_secret}", HTTP_IDEMPOTENCY_KEY="bad-input-1"
        )
    elif path not in ("/api/v1/signup", "/api/v1/auth/token"):
        client.force_authenticate(owner)
    return client


def _send(client, method, url, body):
    """As a client would: JSON with \\u escapes (DRF's test renderer cannot encode a lone
    surrogate at all)."""
    return getattr(client, method)(url, json.dumps(body), content_type="application/json")


def _schema_operations_with_bodies():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {
        (method, path)
        for path, ops in schema["paths"].items()
        for method, op in ops.items()
        if "requestBody" in op
    }


def test_the_table_covers_every_operation_that_takes_a_body(every_endpoint, clinic):
    rows, _ = every_endpoint
    covered = set()
    for method, url, _, _ in rows:
        path = url.replace(f"/clinics/{clinic.slug}/", "/clinics/{slug}/")
        path = re.sub(r"/members/\d+/", "/members/{user_id}/", path)
        path = re.sub(r"/receptionists/\d+/", "/receptionists/{receptionist_id}/", path)
        path = re.sub(r"/messages/\d+/", "/messages/{message_id}/", path)
        path = re.sub(r"/locations/\d+/", "/locations/{location_id}/", path)
        path = path.replace("/numbers/%2B14155550188/", "/numbers/{e164}/")
        path = path.replace("/calls/room_1_x/", "/calls/{room_name}/")
        path = re.sub(
            r"/webhook-endpoints/[0-9a-f-]{36}/", "/webhook-endpoints/{endpoint_id}/", path
        )
        covered.add((method, path))
    assert _schema_operations_with_bodies() <= covered


def test_every_field_refuses_bad_text_with_a_400_naming_it(every_endpoint, owner, clinic):
    rows, agent_secret = every_endpoint
    failures = []
    for method, url, base, fields in rows:
        client = _client_for(url, owner, agent_secret)
        for field in fields:
            for value in _bad_values(field):
                sent = [value] if field == "allowed_addresses" else value
                r = _send(client, method, url, {**base, field: sent})
                body = r.json() if r["Content-Type"].startswith("application/json") else {}
                if r.status_code != 400 or field not in body or len(r.content) > 4000:
                    failures.append((method, url, field, value[:20], r.status_code, body))
    assert failures == []
    assert clinic.name == "Bright Smile Dental"


@pytest.mark.parametrize("key", ["\ud800", "a\x00b", "x" * 100_000])
def test_a_bad_field_name_gets_a_400(api, clinic, key):
    r = _send(api, "patch", f"/api/v1/clinics/{clinic.slug}/", {key: "x"})
    assert r.status_code == 400
    assert len(r.content) < 200_500


@pytest.mark.parametrize("field", ["language", "voice", "stt_model", "llm_model", "tts_model"])
def test_a_lone_surrogate_in_a_choice_field_is_a_400(api, clinic, field):
    """The finding as reported: `{"voice": "\\ud800"}` answered 500."""
    r = _send(api, "put", f"/api/v1/clinics/{clinic.slug}/agent/", {field: "\ud800"})
    assert r.status_code == 400
    assert field in r.json() and "surrogate" in r.json()[field][0]


def test_a_choice_error_lists_the_choices_without_echoing_the_input(api, clinic, viewer):
    r = api.patch(
        f"/api/v1/clinics/{clinic.slug}/members/{viewer.pk}/", {"role": "x" * 5000}, format="json"
    )
    assert r.status_code == 400
    assert r.json() == {
        "role": ["This is not a valid choice; choose one of: admin, owner, viewer."]
    }


# --- property: any text in any field -------------------------------------------------------

_ANY_CHAR = st.one_of(
    st.characters(),
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, categories=["Cs"]),
    st.characters(max_codepoint=0x9F, categories=["Cc"]),
)
_ANY_TEXT = st.one_of(
    st.text(_ANY_CHAR, max_size=40),
    st.builds(lambda c, n: c * n, _ANY_CHAR, st.integers(8_000, 100_001)),
)


@given(data=st.data())
@hypothesis_settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_any_text_in_any_field_is_never_a_server_error(every_endpoint, owner, data):
    """Any string, surrogates, control characters and huge ones included, in any field of any
    endpoint: never a 5xx, and text that is not acceptable is a 400 naming the field."""
    from tenants.text import text_problem

    rows, agent_secret = every_endpoint
    method, url, base, fields = data.draw(st.sampled_from(rows))
    field = data.draw(st.sampled_from(fields))
    value = data.draw(_ANY_TEXT)
    client = _client_for(url, owner, agent_secret)
    sent = [value] if field == "allowed_addresses" else value
    r = _send(client, method, url, {**base, field: sent})
    assert r.status_code < 500, (url, field, r.content[:300])
    if text_problem(value, multiline=field not in ONE_LINE):
        assert r.status_code == 400 and field in r.json(), (url, field, r.content[:300])


@pytest.mark.parametrize("value", ["\n", "\t", "\r\n"])
def test_a_control_character_alone_in_an_optional_name_is_a_400(api, clinic, value):
    """Found by the property above: DRF turned a lone "\\n" label into "" before the text check."""
    r = _send(
        api,
        "post",
        f"/api/v1/clinics/{clinic.slug}/numbers/",
        {"e164": "+14155550199", "label": value},
    )
    assert r.status_code == 400 and "label" in r.json(), r.content
