"""Every clinic page, for every kind of visitor: outsiders get 404 (the clinic's existence
is not confirmed), viewers may look but get 403 on any write, anonymous visitors are sent to
sign in. Nothing is written by a refused request."""

from __future__ import annotations

import pytest
from django.urls import reverse

from telephony.models import PhoneNumber, Provisioning
from telephony.services import phone_number_add
from tenants.models import Clinic

pytestmark = pytest.mark.django_db

STEPS = ["details", "numbers", "carrier", "agent", "review"]

# (url name, extra args, whether GET is a page, POST data)
PAGES = [
    ("dashboard", [], True, None),
    ("status", [], True, None),
    ("setup_start", [], True, None),
    *[("setup", [step], True, {}) for step in STEPS],
]
WRITES = [
    ("setup", ["details"], {"name": "Hacked", "timezone": "UTC"}),
    ("setup", ["numbers"], {"e164": "+14155550199"}),
    ("setup", ["carrier"], {"allowed_addresses": "192.0.2.1"}),
    ("setup", ["agent"], {"greeting": "Hacked"}),
    ("number_remove", [], {"e164": "+14155550100"}),
    ("go_live", [], {}),
    ("retry", [], {}),
    ("offboard", [], {"confirm_name": "Bright Smile Dental"}),
]


def _url(name, clinic, args):
    return reverse(f"tenants:{name}", args=[clinic.slug, *args])


@pytest.fixture
def seeded(clinic):
    phone_number_add(clinic=clinic, number="+14155550100")
    return clinic


def _assert_untouched(clinic):
    clinic.refresh_from_db()
    assert clinic.name == "Bright Smile Dental"
    assert clinic.state == Clinic.State.DRAFT
    assert list(PhoneNumber.objects.for_clinic(clinic).values_list("e164", flat=True)) == [
        "+14155550100"
    ]
    assert Provisioning.objects.for_clinic(clinic).get().generation == 0


@pytest.mark.parametrize(("name", "args", "_page", "_data"), PAGES)
def test_outsider_gets_404_on_pages(client, seeded, outsider, name, args, _page, _data):
    client.force_login(outsider)
    assert client.get(_url(name, seeded, args)).status_code == 404


@pytest.mark.parametrize(("name", "args", "data"), WRITES)
def test_outsider_gets_404_on_writes(client, seeded, outsider, name, args, data):
    client.force_login(outsider)
    assert client.post(_url(name, seeded, args), data).status_code == 404
    _assert_untouched(seeded)


def test_unknown_clinic_is_404(client, owner):
    client.force_login(owner)
    assert client.get(reverse("tenants:dashboard", args=["no-such-clinic"])).status_code == 404


@pytest.mark.parametrize(("name", "args", "_page", "_data"), PAGES)
def test_viewer_can_read(client, seeded, viewer, name, args, _page, _data):
    client.force_login(viewer)
    response = client.get(_url(name, seeded, args), follow=True)
    assert response.status_code == 200


@pytest.mark.parametrize(("name", "args", "data"), WRITES)
def test_viewer_gets_403_on_writes(client, seeded, viewer, name, args, data):
    client.force_login(viewer)
    response = client.post(_url(name, seeded, args), data)
    assert response.status_code == 403
    assert b"does not allow" in response.content
    _assert_untouched(seeded)


def test_viewer_sees_no_edit_controls_on_the_dashboard(client, seeded, viewer):
    client.force_login(viewer)
    body = client.get(reverse("tenants:dashboard", args=[seeded.slug])).content.decode()
    assert "retry-form" not in body
    assert "Edit numbers" not in body
    assert reverse("tenants:offboard", args=[seeded.slug]) not in body


@pytest.mark.parametrize(("name", "args", "_page", "_data"), PAGES)
def test_anonymous_is_sent_to_login_on_pages(client, seeded, name, args, _page, _data):
    url = _url(name, seeded, args)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('tenants:login')}?next={url}"


@pytest.mark.parametrize(("name", "args", "data"), WRITES)
def test_anonymous_is_sent_to_login_on_writes(client, seeded, name, args, data):
    response = client.post(_url(name, seeded, args), data)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("tenants:login"))
    _assert_untouched(seeded)


def test_writes_need_a_csrf_token(seeded, owner):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    response = client.post(
        reverse("tenants:setup", args=[seeded.slug, "details"]), {"name": "X", "timezone": "UTC"}
    )
    assert response.status_code == 403
    _assert_untouched(seeded)
