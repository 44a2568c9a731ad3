"""The clinic dashboard, status.json, retry and offboard."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from telephony.carrier_readiness import WAITING
from telephony.models import Provisioning, ProvisioningEvent
from telephony.services import phone_number_add, trunk_settings_update
from tenants.models import Clinic
from tests.tenants.web_helpers import dashboard_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


def _make_live(clinic, **prov_fields):
    Clinic.objects.filter(pk=clinic.pk).update(state=Clinic.State.LIVE)
    clinic.state = Clinic.State.LIVE
    Provisioning.objects.for_clinic(clinic).update(**prov_fields)


def _status_url(clinic):
    return reverse("tenants:status", args=[clinic.slug])


def test_dashboard_shows_ids_prefix_sip_uri_and_carrier_instructions(
    owner_client, clinic, settings
):
    settings.LIVEKIT_SIP_URI = "sip:sip.switchboard.example"
    phone_number_add(clinic=clinic, number="+14155550100")
    trunk_settings_update(
        clinic=clinic,
        allowed_addresses=["192.0.2.10"],
        auth_username="bright",
        auth_password="pw-abcdef-123",
    )
    _make_live(
        clinic,
        state=Provisioning.State.ACTIVE,
        trunk_id="ST_abc123",
        dispatch_rule_id="SDR_def456",
        generation=3,
        observed_generation=3,
    )
    ProvisioningEvent.objects.create(clinic=clinic, action="create_trunk", detail="ST_abc123")
    response = owner_client.get(dashboard_url(clinic))
    body = response.content.decode()
    assert response.status_code == 200
    for text in (
        "ST_abc123",
        "SDR_def456",
        clinic.room_prefix,
        "sip:sip.switchboard.example",
        "+14155550100",
        "192.0.2.10",
        "bright",
        "create_trunk",
    ):
        assert text in body, text
    assert "pw-abcdef-123" not in body
    # LiveKit's side is live, but no carrier is connected or confirmed and no call came in.
    assert "calls to your numbers are answered" not in body
    assert "Waiting for your carrier" in body
    assert 'data-settled="true"' in body
    assert 'aria-live="polite"' in body
    assert "js/dashboard.js" in body


def test_dashboard_of_a_draft_clinic_points_to_setup(owner_client, clinic):
    body = owner_client.get(dashboard_url(clinic)).content.decode()
    assert "Finish setting up" in body
    assert reverse("tenants:setup_start", args=[clinic.slug]) in body
    assert "Not live yet" in body


def test_dashboard_polls_while_provisioning(owner_client, clinic):
    _make_live(clinic, state=Provisioning.State.PROVISIONING, generation=1)
    body = owner_client.get(dashboard_url(clinic)).content.decode()
    assert 'data-settled="false"' in body
    assert f'data-status-url="{_status_url(clinic)}"' in body


def test_dashboard_shows_last_error_and_retry(owner_client, clinic):
    _make_live(
        clinic,
        state=Provisioning.State.FAILED,
        generation=2,
        observed_generation=1,
        attempts=12,
        last_error="LiveKit refused the number +14155550100: another trunk has it.",
    )
    body = owner_client.get(dashboard_url(clinic)).content.decode()
    assert "LiveKit refused the number" in body
    assert 'id="retry-form"' in body and 'id="retry-form" hidden' not in body
    assert "Attempts so far: 12." in body


def test_dashboard_query_count_is_constant(owner_client, clinic, django_assert_max_num_queries):
    from telephony.models import Call

    # 10 for the page, 3 for the go-live checklist (last test call, first real call) and the
    # call log, 2 for a move between LiveKit projects under way (the carrier's address, the
    # move card: decision 0131), 2
    # for the carrier (its account, a real call), 1 for the calls' outcomes (none when there
    # are no calls).
    _make_live(clinic, state=Provisioning.State.ACTIVE)
    with django_assert_max_num_queries(18):
        owner_client.get(dashboard_url(clinic))
    for i in range(8):
        phone_number_add(clinic=clinic, number=f"+1415555{100 + i:04d}")
        ProvisioningEvent.objects.create(clinic=clinic, action=f"step_{i}")
        Call.objects.create(
            clinic=clinic, room_sid=f"RM_{i}", room_name=f"x_{i}", mapped_by="trunk"
        )
    with django_assert_max_num_queries(19):  # + the calls' outcomes, now that there are calls
        response = owner_client.get(dashboard_url(clinic))
    assert response.status_code == 200


def test_status_json_shape(owner_client, clinic):
    next_at = timezone.now() + timedelta(seconds=30)
    _make_live(
        clinic,
        state=Provisioning.State.RETRYING,
        trunk_id="ST_1",
        generation=4,
        observed_generation=3,
        attempts=2,
        next_attempt_at=next_at,
        last_error="LiveKit did not answer in time.",
    )
    ProvisioningEvent.objects.create(
        clinic=clinic, generation=4, action="create_rule", outcome="error", detail="timeout"
    )
    response = owner_client.get(_status_url(clinic))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"]
    data = response.json()
    [event] = data.pop("events")
    checklist = data.pop("checklist")
    assert [item["key"] for item in checklist] == [
        "numbers",
        "carrier",
        "agent",
        "provisioning",
        "carrier_connected",
        "test_call",
        "first_call",
    ]
    assert checklist[3] == {
        "key": "provisioning",
        "title": "Phone line active",
        "status": "todo",
        "status_label": "To do",
        "detail": "Go live, then wait a few seconds.",
        "at": None,
        "at_text": "",
    }
    assert data.pop("next_attempt_text").endswith(" UTC")  # the clinic's zone
    assert data == {
        "clinic": clinic.slug,
        "clinic_state": "live",
        "clinic_state_label": "Live",
        "state": "retrying",
        "state_label": "Retrying",
        "state_sentence": "Our phone service could not be reached just now; trying again "
        "by itself (attempt 2).",
        "settled": False,
        "converged": False,
        "trunk_id": "ST_1",
        "dispatch_rule_id": "",
        "last_error": "LiveKit did not answer in time.",
        "problem": "Our phone service did not answer just now. Nothing is lost: we keep "
        "trying by ourselves, and this page updates when it works.",
        "attempts": 2,
        "next_attempt_at": next_at.isoformat(),
        "generation": 4,
        "observed_generation": 3,
        "steps": [
            {
                "key": "trunk",
                "title": "Connecting your numbers",
                "status": "done",
                "status_label": "Done",
            },
            {
                "key": "rule",
                "title": "Sending calls to your receptionist",
                "status": "retrying",
                "status_label": "Retrying",
            },
            {
                "key": "carrier",
                "title": "Your carrier sending calls here",
                "status": "waiting",
                "status_label": "Waiting",
            },
            {
                "key": "live",
                "title": "Answering calls",
                "status": "waiting",
                "status_label": "Waiting",
            },
        ],
        "carrier": {
            "status": "waiting",
            "label": "Waiting for your carrier",
            "sentence": WAITING,
            "ready": False,
            "answering": False,
            "provider": "",
            "trunk_id": "",
        },
        "move": None,  # never moved (tests/telephony/test_move_status_json.py)
    }
    assert set(event) == {"at", "at_text", "sentence", "action", "outcome", "detail"}
    assert event["sentence"] == (
        "Routing calls to your receptionist did not work; see Advanced for the details."
    )
    assert (event["action"], event["outcome"], event["detail"]) == (
        "create_rule",
        "error",
        "timeout",
    )


@pytest.mark.parametrize(
    ("state", "settled"),
    [
        ("new", True),
        ("pending", False),
        ("provisioning", False),
        ("retrying", False),
        ("active", True),
        ("failed", True),
        ("deprovisioning", False),
        ("deprovisioned", True),
    ],
)
def test_status_json_says_when_to_stop_polling(owner_client, clinic, state, settled):
    Provisioning.objects.for_clinic(clinic).update(state=state)
    assert owner_client.get(_status_url(clinic)).json()["settled"] is settled


def test_status_json_for_viewer(client, clinic, viewer):
    client.force_login(viewer)
    assert client.get(_status_url(clinic)).json()["state"] == "new"


def test_retry_after_failure_enqueues_reconcile(
    owner_client, clinic, django_capture_on_commit_callbacks
):
    _make_live(
        clinic,
        state=Provisioning.State.FAILED,
        generation=2,
        observed_generation=1,
        attempts=12,
        last_error="Boom.",
    )
    with (
        mock.patch("telephony.publishing._publish") as publish,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = owner_client.post(reverse("tenants:retry", args=[clinic.slug]))
    assert response["Location"] == dashboard_url(clinic)
    prov = Provisioning.objects.for_clinic(clinic).get()
    assert (prov.state, prov.attempts) == (Provisioning.State.PENDING, 0)
    publish.assert_called_once_with(str(clinic.pk), False)
    assert ProvisioningEvent.objects.for_clinic(clinic).filter(action="retry_requested").exists()


def test_retry_when_converged_does_nothing(owner_client, clinic):
    _make_live(clinic, state=Provisioning.State.ACTIVE, generation=1, observed_generation=1)
    with mock.patch("telephony.publishing._publish") as publish:
        owner_client.post(reverse("tenants:retry", args=[clinic.slug]))
    assert Provisioning.objects.for_clinic(clinic).get().state == Provisioning.State.ACTIVE
    publish.assert_not_called()


def test_retry_is_post_only(owner_client, clinic):
    assert owner_client.get(reverse("tenants:retry", args=[clinic.slug])).status_code == 405


# --- offboard -------------------------------------------------------------------------------


def test_offboard_asks_for_confirmation(owner_client, clinic):
    response = owner_client.get(reverse("tenants:offboard", args=[clinic.slug]))
    assert response.status_code == 200
    assert b"Type the clinic&#x27;s name to confirm" in response.content


def test_offboard_with_wrong_name_changes_nothing(owner_client, clinic):
    response = owner_client.post(
        reverse("tenants:offboard", args=[clinic.slug]), {"confirm_name": "Other"}
    )
    assert response.status_code == 400
    assert response.context["form"].errors["confirm_name"]
    clinic.refresh_from_db()
    assert clinic.state == Clinic.State.DRAFT


def test_offboard_deprovisions_a_live_clinic(
    owner_client, clinic, django_capture_on_commit_callbacks
):
    phone_number_add(clinic=clinic, number="+14155550100")
    _make_live(
        clinic,
        state=Provisioning.State.ACTIVE,
        trunk_id="ST_1",
        dispatch_rule_id="SDR_1",
        generation=1,
        observed_generation=1,
    )
    with (
        mock.patch("telephony.publishing._publish") as publish,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = owner_client.post(
            reverse("tenants:offboard", args=[clinic.slug]),
            {"confirm_name": "  bright smile dental "},
        )
    assert response["Location"] == reverse("tenants:home")
    clinic.refresh_from_db()
    assert clinic.state == Clinic.State.OFFBOARDED
    prov = Provisioning.objects.for_clinic(clinic).get()
    assert (prov.state, prov.generation) == (Provisioning.State.DEPROVISIONING, 2)
    publish.assert_called_once_with(str(clinic.pk), False)
    # The clinic is gone for its members now.
    assert owner_client.get(dashboard_url(clinic)).status_code == 404


def test_only_the_owner_sees_the_offboard_link(client, clinic, admin_member):
    client.force_login(admin_member)
    body = client.get(dashboard_url(clinic)).content.decode()
    assert reverse("tenants:offboard", args=[clinic.slug]) not in body
    assert client.get(reverse("tenants:offboard", args=[clinic.slug])).status_code == 403
    assert (
        client.post(
            reverse("tenants:offboard", args=[clinic.slug]), {"confirm_name": clinic.name}
        ).status_code
        == 403
    )
    clinic.refresh_from_db()
    assert clinic.state == Clinic.State.DRAFT


def test_status_json_query_count_is_constant(owner_client, clinic, django_assert_max_num_queries):
    for i in range(12):
        ProvisioningEvent.objects.create(clinic=clinic, action=f"step_{i}")
    # the clinic's zone (middleware), access, the overview, the checklist and the carrier
    # (its account, a real call), the clinic's last move between projects: 16 whatever the
    # count of events, numbers and calls (an open move adds its carrier and numbers: 18)
    with django_assert_max_num_queries(16):
        data = owner_client.get(_status_url(clinic)).json()
    assert len(data["events"]) == 10


def test_pages_use_only_assets_served_by_the_app(owner_client, clinic):
    import re

    from django.contrib.staticfiles import finders

    body = owner_client.get(dashboard_url(clinic)).content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css|svg))"', body)
    assert assets and all(a.startswith("/static/") for a in assets), assets
    for asset in assets:
        assert finders.find(asset.removeprefix("/static/")), asset


def test_dashboard_shows_the_provisioning_steps(owner_client, clinic):
    _make_live(clinic, state=Provisioning.State.PROVISIONING, trunk_id="ST_1", generation=1)
    body = owner_client.get(dashboard_url(clinic)).content.decode()
    assert 'id="prov-steps"' in body
    assert 'class="prov-step prov-step--done" data-step="trunk"' in body
    assert 'class="prov-step prov-step--working" data-step="rule"' in body
    assert 'class="prov-step prov-step--waiting" data-step="live"' in body


def test_a_draft_dashboard_has_no_provisioning_steps(owner_client, clinic):
    body = owner_client.get(dashboard_url(clinic)).content.decode()
    assert 'id="prov-steps"' not in body


def test_dashboard_has_the_carrier_guides_and_copy_script(owner_client, clinic):
    body = owner_client.get(dashboard_url(clinic)).content.decode()
    assert "What to enter at your carrier" in body and "Twilio Elastic SIP Trunking" in body
    assert "js/copy.js" in body
