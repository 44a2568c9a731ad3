"""Settings → Webhooks pages: add an endpoint (secret shown once), edit, the delivery log
with resend and send test event, rotate, delete; owners and admins only."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from tests.webhooks.conftest import make_endpoint
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db
URL = "https://hooks.example.com/switchboard"


def as_user(user):
    c = Client()
    c.force_login(user)
    return c


def test_adding_an_endpoint_shows_the_secret_once(clinic, owner):
    c = as_user(owner)
    page = reverse("webhooks:list", args=[clinic.slug])
    r = c.post(page, {"url": URL, "events": ["call.started", "call.ended"], "enabled": "on"})
    assert r.status_code == 201
    text = r.content.decode()
    (secret,) = re.findall(r"whsec_[A-Za-z0-9+/=]+", text)
    assert "shown only this once" in text and r["Cache-Control"].startswith("max-age=0")
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret == secret and endpoint.events == ["call.started", "call.ended"]
    for again in (c.get(page), c.get(reverse("webhooks:detail", args=[clinic.slug, endpoint.pk]))):
        assert again.status_code == 200 and secret not in again.content.decode()


def test_a_refused_url_is_named_on_the_form(clinic, owner):
    r = as_user(owner).post(
        reverse("webhooks:list", args=[clinic.slug]),
        {"url": "https://10.0.0.1/hook", "events": ["call.ended"]},
    )
    assert r.status_code == 400
    assert "a private network address" in r.content.decode()
    assert WebhookEndpoint.objects.count() == 0


def test_edit_test_event_resend_rotate_and_delete(clinic, admin_member):
    endpoint, secret = make_endpoint(clinic, url=URL)
    c = as_user(admin_member)
    detail = reverse("webhooks:detail", args=[clinic.slug, endpoint.pk])
    r = c.post(detail, {"url": URL, "events": ["number.added"]})  # enabled unticked
    assert r.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.events == ["number.added"] and not endpoint.enabled
    r = c.post(reverse("webhooks:test", args=[clinic.slug, endpoint.pk]), follow=True)
    assert "turn it on before sending a test" in r.content.decode()
    c.post(detail, {"url": URL, "events": ["number.added"], "enabled": "on"})
    r = c.post(reverse("webhooks:test", args=[clinic.slug, endpoint.pk]), follow=True)
    text = r.content.decode()
    assert "Test sent" in text and "<div>Test<br>" in text
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.update(status="failed")
    r = c.post(
        reverse("webhooks:resend", args=[clinic.slug, endpoint.pk, delivery.pk]), follow=True
    )
    assert "marked as the same event" in r.content.decode()
    assert WebhookDelivery.objects.get().status == "pending"
    r = c.post(reverse("webhooks:rotate", args=[clinic.slug, endpoint.pk]))
    (new,) = re.findall(r"whsec_[A-Za-z0-9+/=]+", r.content.decode())
    assert new != secret
    r = c.post(reverse("webhooks:delete", args=[clinic.slug, endpoint.pk]))
    assert r.status_code == 302 and WebhookEndpoint.objects.count() == 0


@pytest.mark.parametrize(("party", "status"), [("viewer", 403), ("outsider", 404)])
def test_viewers_and_outsiders_see_nothing(clinic, viewer, outsider, party, status):
    endpoint, _ = make_endpoint(clinic, url=URL)
    c = as_user({"viewer": viewer, "outsider": outsider}[party])
    for name, args in [
        ("webhooks:list", []),
        ("webhooks:detail", [endpoint.pk]),
    ]:
        r = c.get(reverse(name, args=[clinic.slug, *args]))
        assert r.status_code == status and URL not in r.content.decode()
    for name in ("webhooks:rotate", "webhooks:test", "webhooks:delete"):
        assert c.post(reverse(name, args=[clinic.slug, endpoint.pk])).status_code == status
    endpoint.refresh_from_db()
    assert endpoint.enabled and WebhookDelivery.objects.count() == 0
