"""The isolation matrix over every clinic-scoped API endpoint and method: anonymous
callers get 401, outsiders 404 (the clinic's existence is not confirmed), viewers may read
but get 403 on every write, and a refused request writes nothing."""

from __future__ import annotations

from unittest import mock

import pytest

from frontdesk.models import AfterHours, FrontDesk, Location, Message
from telephony.models import (
    CarrierAccount,
    NumberPurchase,
    PhoneNumber,
    Provisioning,
    ProvisioningEvent,
    Receptionist,
    TrunkSettings,
)
from telephony.services import phone_number_add
from tenants.models import Clinic
from tests.api_helpers import api_as, clinic_url, number_url

pytestmark = pytest.mark.django_db

N1 = "+14155550100"
AFTER_HOURS = "receptionists/FIRST/after-hours/"
MESSAGE = "messages/MSG/"
READS = [
    "",
    "numbers/",
    "trunk-settings/",
    "carrier/",
    "carrier/purchases/",
    "carrier/confirmation/",
    "agent/",
    "provisioning/",
    "hours/",
    "clinic-info/",
    AFTER_HOURS,
    "messages/",
    MESSAGE,
    "messages/email/",
    "locations/",
    "locations/LOC/",
]
WRITES = [
    ("patch", "", {"name": "Hacked"}),
    ("post", "numbers/", {"e164": "+14155550199"}),
    ("delete", "numbers/+14155550100/", None),
    ("put", "trunk-settings/", {"allowed_addresses": ["192.0.2.1"]}),
    ("put", "carrier/", {"provider": "telnyx", "api_key": "KEY-hacked-123"}),
    ("delete", "carrier/", None),
    ("post", "carrier/purchases/", {"e164": "+14155550150", "confirm_cost": True}),
    ("get", "carrier/available-numbers/?country=US", None),  # uses the carrier credentials
    ("put", "carrier/confirmation/", {"confirmed": True}),
    ("put", "agent/", {"greeting": "Hacked"}),
    ("post", "go-live/", None),
    ("post", "offboard/", None),
    ("post", "retry/", None),
    ("put", "hours/", {"timezone": "UTC", "weekly": [], "closures": [{"date": "2026-12-25"}]}),
    ("patch", "clinic-info/", {"address": "Hacked"}),
    ("patch", AFTER_HOURS, {"greeting": "Hacked"}),
    ("patch", MESSAGE, {"handled": True}),
    ("patch", "messages/email/", {"email_owners_and_admins": True}),
    ("post", "locations/", {"name": "Hacked"}),
    ("patch", "locations/LOC/", {"address": "Hacked"}),
    ("delete", "locations/LOC/", None),
]
ALL = [("get", path, None) for path in READS] + WRITES


def _url(clinic: Clinic, path: str) -> str:
    if path.startswith("numbers/+"):
        return number_url(clinic, N1)
    if path == MESSAGE:
        message = Message.objects.get(clinic=clinic)
        return clinic_url(clinic, f"messages/{message.pk}/")
    if "LOC" in path:
        location = Location.objects.get(clinic=clinic)
        return clinic_url(clinic, path.replace("LOC", str(location.pk)))
    if path == AFTER_HOURS:
        first = Receptionist.objects.first_of(clinic)
        return clinic_url(clinic, path.replace("FIRST", str(first.pk)))
    return clinic_url(clinic, path)


@pytest.fixture
def seeded(clinic):
    phone_number_add(clinic=clinic, number=N1)
    Message.objects.create(
        clinic=clinic, room_name="x", reason="Call me", idempotency_key="k", body_hash="x"
    )
    Location.objects.create(clinic=clinic, name="Uptown")
    return clinic


@pytest.fixture(autouse=True)
def no_broker():
    with mock.patch("telephony.publishing._publish") as publish:
        yield publish


def _snapshot(clinic: Clinic) -> tuple:
    clinic.refresh_from_db()
    ts = TrunkSettings.objects.get(clinic=clinic)
    return (
        clinic.name,
        clinic.state,
        list(PhoneNumber.objects.for_clinic(clinic).values_list("e164", flat=True)),
        Receptionist.objects.get(clinic=clinic).version,
        ts.allowed_addresses,
        list(CarrierAccount.objects.filter(clinic=clinic).values_list("provider", flat=True)),
        NumberPurchase.objects.filter(clinic=clinic).count(),
        Provisioning.objects.get(clinic=clinic).generation,
        ProvisioningEvent.objects.filter(clinic=clinic).count(),
        list(FrontDesk.objects.filter(clinic=clinic).values()),
        list(AfterHours.objects.filter(clinic=clinic).values()),
        list(Message.objects.filter(clinic=clinic).values()),
        list(Location.objects.filter(clinic=clinic).values()),
    )


def _call(client, method, url, body):
    return (
        getattr(client, method)(url, body, format="json") if body else getattr(client, method)(url)
    )


@pytest.mark.parametrize(("method", "path", "body"), ALL)
def test_anonymous_gets_401(api_client, seeded, method, path, body):
    before = _snapshot(seeded)
    r = _call(api_client, method, _url(seeded, path), body)
    assert r.status_code == 401
    assert _snapshot(seeded) == before


@pytest.mark.parametrize(("method", "path", "body"), ALL)
def test_outsider_gets_404(seeded, outsider, method, path, body):
    before = _snapshot(seeded)
    r = _call(api_as(outsider), method, _url(seeded, path), body)
    assert r.status_code == 404
    assert r.json() == {"detail": "No such clinic."}
    assert _snapshot(seeded) == before


@pytest.mark.parametrize("path", READS)
def test_viewer_may_read(seeded, viewer, path):
    assert api_as(viewer).get(_url(seeded, path)).status_code == 200


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_viewer_gets_403_on_every_write(seeded, viewer, method, path, body):
    before = _snapshot(seeded)
    r = _call(api_as(viewer), method, _url(seeded, path), body)
    assert r.status_code == 403
    assert r.json() == {"detail": "Your role in this clinic does not allow this."}
    assert _snapshot(seeded) == before


@pytest.mark.parametrize(("method", "path", "body"), ALL)
def test_a_staff_user_who_is_not_a_member_gets_404(seeded, method, path, body):
    from tests.factories import UserFactory

    staff = UserFactory(is_staff=True, is_superuser=True)
    r = _call(api_as(staff), method, _url(seeded, path), body)
    assert r.status_code == 404
