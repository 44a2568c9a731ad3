"""Never "live" before calls can arrive (issue 14): the dashboard waits for the carrier until it
is set up automatically, confirmed by hand, or a real call arrived; "Answering calls" is ticked
only when the carrier side is provisioned or a real call arrived."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from telephony import carrier_services as carriers
from telephony import services
from telephony.carrier_readiness import carrier_readiness
from telephony.models import Call, Provisioning, TrunkSettings
from telephony.provisioning.reconcile import reconcile_clinic
from telephony.ratelimit import reset_limiter
from tests.jargon import JARGON_RE, visible_text
from tests.tenants.web_helpers import dashboard_url

from .conftest import NUMBERS

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def live(clinic, owner, fake_gateway, settings):
    settings.SWITCHBOARD_DEPLOYMENT_ID = f"t-{uuid.uuid4().hex[:8]}"
    reset_limiter()
    services.phone_number_add(clinic=clinic, number=NUMBERS[0])
    services.clinic_go_live(clinic=clinic, actor=owner)
    return clinic


def readiness(clinic):
    return carrier_readiness(
        clinic=clinic,
        provisioning=Provisioning.objects.get(clinic=clinic),
        trunk_settings=TrunkSettings.objects.filter(clinic=clinic).first(),
    )


def make_call(clinic, *, is_test):
    return Call.objects.create(
        clinic=clinic,
        room_sid=f"RM_{uuid.uuid4().hex[:10]}",
        room_name=f"{clinic.room_prefix}_x",
        started_at=timezone.now(),
        is_test=is_test,
        mapped_by=Call.MappedBy.ROOM_PREFIX,
    )


def status(client, clinic):
    return client.get(reverse("tenants:status", args=[clinic.slug])).json()


def steps(data):
    return {s["key"]: s["status_label"] for s in data["steps"]}


def checklist(data):
    return {i["key"]: i["status"] for i in data["checklist"]}


def test_live_on_our_side_but_waiting_for_the_carrier(owner_client, live):
    reconcile_clinic(live.pk)
    data = status(owner_client, live)

    assert data["state"] == "active"
    assert data["state_sentence"].startswith("Ready on our side. Waiting for your carrier")
    assert steps(data) == {
        "trunk": "Done",
        "rule": "Done",
        "carrier": "Waiting for your carrier",
        "live": "Waiting",
    }
    assert checklist(data)["carrier_connected"] == "todo"
    assert data["carrier"]["status"] == "waiting" and not data["carrier"]["answering"]
    body = owner_client.get(dashboard_url(live)).content.decode()
    assert "calls to your numbers are answered" not in body
    assert "Waiting for your carrier" in body
    assert not JARGON_RE.search(visible_text(body)), JARGON_RE.search(visible_text(body))


def test_confirmed_by_hand_then_the_first_real_call_ticks_answering(owner_client, live):
    reconcile_clinic(live.pk)
    url = reverse("tenants:settings", args=[live.slug, "carrier"])
    page = owner_client.get(url).content.decode()
    assert "I&#x27;ve configured my carrier" in page or "I've configured my carrier" in page

    response = owner_client.post(url, {"carrier_action": "confirm"})
    assert response.status_code == 302
    assert TrunkSettings.objects.get(clinic=live).carrier_confirmed_at is not None
    data = status(owner_client, live)
    assert data["carrier"]["status"] == "confirmed"
    assert steps(data)["carrier"] == "Done" and steps(data)["live"] == "Waiting"
    assert checklist(data)["carrier_connected"] == "done"
    assert data["state_sentence"].startswith("Ready: your receptionist answers")

    make_call(live, is_test=False)
    data = status(owner_client, live)
    assert data["carrier"]["status"] == "first_call"
    assert steps(data)["live"] == "Done"
    assert "calls to your numbers are answered" in data["state_sentence"]

    # Taken back: waiting again only while no call has arrived (one has).
    owner_client.post(url, {"carrier_action": "unconfirm"})
    assert TrunkSettings.objects.get(clinic=live).carrier_confirmed_at is None


def test_a_test_call_is_not_a_real_call(live):
    reconcile_clinic(live.pk)
    make_call(live, is_test=True)
    assert readiness(live).status == "waiting"


def test_connected_and_provisioned_carrier_answers(owner_client, clinic, owner, twilio, live):
    creds = carriers.parse_credentials(
        provider="twilio", account_sid=twilio.account_sid, auth_token=twilio.auth_token
    )
    carriers.carrier_connect(clinic=live, creds=creds, actor=owner)
    assert readiness(live).status == "setting_up"
    assert reconcile_clinic(live.pk).outcome == "converged"

    data = status(owner_client, live)
    assert data["carrier"]["status"] == "connected"
    assert data["carrier"]["provider"] == "Twilio" and data["carrier"]["trunk_id"].startswith("TK")
    assert steps(data)["carrier"] == "Done" and steps(data)["live"] == "Done"
    assert "calls to your numbers are answered" in data["state_sentence"]
    body = owner_client.get(dashboard_url(live)).content.decode()
    assert data["carrier"]["trunk_id"] in body  # under Advanced
    assert not JARGON_RE.search(visible_text(body)), JARGON_RE.search(visible_text(body))
    page = owner_client.get(reverse("tenants:settings", args=[live.slug, "carrier"]))
    text = visible_text(page.content.decode())
    assert "Sends its calls here" in text
    assert not JARGON_RE.search(text), JARGON_RE.search(text)


def test_revoked_credentials_show_on_the_dashboard_in_plain_words(
    owner_client, owner, twilio, live
):
    creds = carriers.parse_credentials(
        provider="twilio", account_sid=twilio.account_sid, auth_token=twilio.auth_token
    )
    carriers.carrier_connect(clinic=live, creds=creds, actor=owner)
    twilio.control.post("credentials", {"auth_token": "another-token-" + "z" * 20})
    assert reconcile_clinic(live.pk).outcome == "failed"

    data = status(owner_client, live)
    assert data["carrier"]["status"] == "failed"
    assert "no longer accepts the saved credentials" in data["problem"]
    assert steps(data)["carrier"] != "Done"
    body = owner_client.get(dashboard_url(live)).content.decode()
    assert "Retry now" in body
    assert not JARGON_RE.search(visible_text(body)), JARGON_RE.search(visible_text(body))
