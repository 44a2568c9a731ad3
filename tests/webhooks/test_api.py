"""The webhook endpoints API: the fixed interface, the secret shown once, bad input named,
and who may do what (owners and admins; viewers 403; outsiders 404; anonymous 401)."""

from __future__ import annotations

import pytest

from tests.api_helpers import api_as, clinic_url
from tests.factories import UserFactory, make_clinic
from tests.webhooks.conftest import make_endpoint
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db
URL = "https://hooks.example.com/switchboard"


def ep_url(clinic, endpoint=None, tail=""):
    base = "webhook-endpoints/" + (f"{endpoint.pk}/" if endpoint else "")
    return clinic_url(clinic, base + tail)


def test_create_answers_with_the_secret_once(clinic, owner):
    api = api_as(owner)
    r = api.post(
        ep_url(clinic),
        {"url": URL, "events": ["call.ended", "call.started", "call.ended"]},
        format="json",
    )
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["secret"].startswith("whsec_") and len(body["secret"]) > 40
    assert body["events"] == ["call.started", "call.ended"] and body["enabled"] is True
    listed = api.get(ep_url(clinic)).json()
    assert [e["id"] for e in listed] == [body["id"]]
    endpoint = WebhookEndpoint.objects.get()
    one = api.get(ep_url(clinic, endpoint))
    assert one.status_code == 200
    for shown in (listed[0], one.json()):
        assert "secret" not in shown and body["secret"] not in str(shown)


def test_patch_changes_only_what_is_sent(clinic, owner):
    endpoint, _ = make_endpoint(clinic, url=URL)
    r = api_as(owner).patch(ep_url(clinic, endpoint), {"enabled": False}, format="json")
    assert r.status_code == 200 and r.json()["enabled"] is False
    assert r.json()["url"] == URL and r.json()["events"] == endpoint.events
    r = api_as(owner).patch(ep_url(clinic, endpoint), {"events": ["number.added"]}, format="json")
    assert r.json()["events"] == ["number.added"]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"url": URL, "events": []}, "events", ""),
        ({"url": URL, "events": ["call.exploded"]}, "events", "not a valid choice"),
        ({"url": URL, "events": "call.ended"}, "events", ""),
        ({"events": ["call.ended"]}, "url", "required"),
        ({"url": "", "events": ["call.ended"]}, "url", ""),
        ({"url": "not a url", "events": ["call.ended"]}, "url", "https://"),
        ({"url": "https://" + "a" * 2000 + ".example.com", "events": ["call.ended"]}, "url", ""),
        ({"url": URL, "events": ["call.ended"], "enabled": "perhaps"}, "enabled", ""),
    ],
)
def test_bad_input_is_a_400_naming_the_field(clinic, owner, body, field, words):
    r = api_as(owner).post(ep_url(clinic), body, format="json")
    assert r.status_code == 400, r.content
    assert field in r.json() and words in str(r.json()[field])
    assert WebhookEndpoint.objects.count() == 0


def test_rotate_gives_a_new_secret_and_keeps_the_old_one_signing(clinic, owner):
    endpoint, old = make_endpoint(clinic, url=URL)
    r = api_as(owner).post(ep_url(clinic, endpoint, "rotate-secret/"))
    assert r.status_code == 200
    new = r.json()["secret"]
    assert new.startswith("whsec_") and new != old
    assert r.json()["previous_secret_valid_until"]
    endpoint.refresh_from_db()
    assert (endpoint.secret, endpoint.previous_secret) == (new, old)


def test_send_test_event_resend_and_the_delivery_log(clinic, owner):
    endpoint, _ = make_endpoint(clinic, url=URL)
    api = api_as(owner)
    r = api.post(ep_url(clinic, endpoint, "test/"))
    assert r.status_code == 202 and r.json()["type"] == "webhook.test"
    assert r.json()["payload"]["data"]["clinic"]["slug"] == clinic.slug
    (row,) = api.get(ep_url(clinic, endpoint, "deliveries/")).json()
    assert row["status"] == "pending" and row["webhook_id"].startswith("msg_")
    assert row["attempt_log"] == []
    # A pending delivery cannot be resent; a finished one can, with the same webhook-id.
    resend = ep_url(clinic, endpoint, f"deliveries/{row['id']}/resend/")
    assert api.post(resend).status_code == 400
    WebhookDelivery.objects.update(status="failed", attempts=8)
    r = api.post(resend)
    assert r.status_code == 202 and r.json()["status"] == "pending"
    assert r.json()["attempts"] == 0 and r.json()["webhook_id"] == row["webhook_id"]
    assert api.post(ep_url(clinic, endpoint, "deliveries/999999/resend/")).status_code == 404


def test_a_disabled_endpoint_gets_no_test_event(clinic, owner):
    endpoint, _ = make_endpoint(clinic, url=URL, enabled=False)
    r = api_as(owner).post(ep_url(clinic, endpoint, "test/"))
    assert r.status_code == 400 and "enabled" in r.json()


def test_delete(clinic, owner):
    endpoint, _ = make_endpoint(clinic, url=URL)
    assert api_as(owner).delete(ep_url(clinic, endpoint)).status_code == 204
    assert WebhookEndpoint.objects.count() == 0
    assert api_as(owner).get(ep_url(clinic, endpoint)).status_code == 404


def test_at_most_ten_endpoints(clinic, owner):
    for _ in range(10):
        make_endpoint(clinic, url=URL)
    r = api_as(owner).post(ep_url(clinic), {"url": URL, "events": ["call.ended"]}, format="json")
    assert r.status_code == 400 and "at most 10" in r.json()["url"][0]


OPERATIONS = [
    ("get", None, "", None),
    ("post", None, "", {"url": URL, "events": ["call.ended"]}),
    ("get", "ep", "", None),
    ("patch", "ep", "", {"enabled": False}),
    ("post", "ep", "rotate-secret/", None),
    ("post", "ep", "test/", None),
    ("get", "ep", "deliveries/", None),
    ("delete", "ep", "", None),
]


@pytest.mark.parametrize(("method", "one", "tail", "body"), OPERATIONS)
@pytest.mark.parametrize(
    ("party", "expected"),
    [("admin", "ok"), ("viewer", 403), ("outsider", 404), ("anonymous", 401)],
)
def test_roles(clinic, admin_member, viewer, outsider, method, one, tail, body, party, expected):
    endpoint, _ = make_endpoint(clinic, url=URL)
    before = WebhookEndpoint.objects.get()
    user = {"admin": admin_member, "viewer": viewer, "outsider": outsider, "anonymous": None}[party]
    url = ep_url(clinic, endpoint if one else None, tail)
    r = getattr(api_as(user), method)(url, body, format="json")
    if expected == "ok":
        assert 200 <= r.status_code < 300, r.content
        return
    assert r.status_code == expected
    after = WebhookEndpoint.objects.get()
    assert (after.secret, after.enabled, after.url) == (before.secret, before.enabled, before.url)
    assert WebhookDelivery.objects.count() == 0


@pytest.mark.parametrize(("method", "one", "tail", "body"), [o for o in OPERATIONS if o[1]])
def test_another_clinics_endpoint_is_404_for_its_non_members(clinic, method, one, tail, body):
    endpoint, _ = make_endpoint(clinic, url=URL)
    stranger = UserFactory(email="owner@else.example")
    theirs = make_clinic(stranger, "Elsewhere Dental")
    # The other clinic's owner, naming this clinic's endpoint under their own clinic.
    url = ep_url(theirs, endpoint, tail)
    r = getattr(api_as(stranger), method)(url, body, format="json")
    assert r.status_code == 404
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk, enabled=True).exists()
