"""Shared fixtures: the three parties (owner, viewer, outsider), API clients, fakes."""

from __future__ import annotations

import copy
import uuid

import pytest
from rest_framework.test import APIClient

from tests.factories import UserFactory, add_member, make_clinic
from tests.fakes import FakeLiveKitGateway


@pytest.fixture
def owner(db):
    return UserFactory(email="owner@bright.example")


@pytest.fixture
def clinic(owner):
    return make_clinic(owner, "Bright Smile Dental")


@pytest.fixture
def viewer(clinic):
    return add_member(clinic, "viewer", UserFactory(email="viewer@bright.example"))


@pytest.fixture
def admin_member(clinic):
    return add_member(clinic, "admin", UserFactory(email="admin@bright.example"))


@pytest.fixture
def outsider(db):
    """Owner of another clinic: must see nothing of `clinic`."""
    user = UserFactory(email="owner@other.example")
    make_clinic(user, "Other Dental")
    return user


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def owner_api(api_client, owner):
    api_client.force_authenticate(owner)
    return api_client


@pytest.fixture
def fake_gateway(settings):
    """Swap the LiveKit gateway for an in-memory fake, as settings.LIVEKIT_GATEWAY allows."""
    FakeLiveKitGateway.reset()
    settings.LIVEKIT_GATEWAY = "tests.fakes.FakeLiveKitGateway"
    return FakeLiveKitGateway.shared()


@pytest.fixture(autouse=True)
def _own_cache_namespace(settings):
    """Each test counts rate limits and lockouts in a cache namespace of its own."""
    caches = copy.deepcopy(settings.CACHES)
    caches["default"]["KEY_PREFIX"] = f"test-{uuid.uuid4().hex[:12]}"
    settings.CACHES = caches


class FakeDns(dict):
    """Names the webhook address check resolves in tests, without the internet's DNS.

    Addresses resolve to themselves, `localhost` to loopback, names under example.com /
    .org / .net to a public address, names set in the dict to what it says; anything else
    does not resolve.
    """

    PUBLIC = "93.184.215.14"

    def __call__(self, host: str, port: int) -> list[str]:
        import ipaddress

        if host in self:
            return list(self[host])
        try:
            return [str(ipaddress.ip_address(host))]
        except ValueError:
            pass
        if host == "localhost":
            return ["127.0.0.1", "::1"]
        if host.endswith((".example.com", ".example.org", ".example.net")):
            return [self.PUBLIC]
        raise OSError(f"fake DNS: {host} does not resolve")


@pytest.fixture(autouse=True)
def dns(monkeypatch):
    fake = FakeDns()
    monkeypatch.setattr("webhooks.destinations.resolve", fake)
    return fake


@pytest.fixture(autouse=True)
def _staff_sign_in_with_two_factor(monkeypatch):
    """The admin needs two-factor sign-in for staff. A test's `force_login` of a staff user
    enrols them (an authenticator device) and marks the session verified, as the code step
    would; tests of the second factor itself sign in through the real pages."""
    from django.test import Client

    from tests.twofactor_helpers import verify_session

    original = Client.force_login

    def force_login(self, user, backend=None):
        original(self, user, backend)
        if user.is_staff:
            verify_session(self, user)

    monkeypatch.setattr(Client, "force_login", force_login)
