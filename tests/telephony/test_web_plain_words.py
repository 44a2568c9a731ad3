"""Every clinic page speaks clinic, not LiveKit: no word from the jargon list is visible
outside the "Advanced / for your IT person" disclosure (server-rendered HTML; the browser
journey checks what Chromium shows). A test call answers in one sentence."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from frontdesk.models import Message
from telephony import services
from telephony.models import Call, Provisioning, ProvisioningEvent
from telephony.provisioning.reconcile import reconcile_clinic
from telephony.receptionists import receptionist_create
from tenants.models import Membership
from tenants.services import clinic_update
from tests.factories import add_member, make_clinic
from tests.jargon import jargon_in, visible_text

pytestmark = pytest.mark.django_db
A = "+14155550131"


@pytest.fixture
def lk_settings():
    return {"LIVEKIT_TIMEOUT_SECONDS": 3, "LIVEKIT_IS_EMULATOR": True}


@pytest.fixture
def live(clinic, owner, lk):
    clinic_update(clinic=clinic, timezone_name="America/Los_Angeles")
    services.phone_number_add(clinic=clinic, number=A, label="")
    services.clinic_go_live(clinic=clinic, actor=owner)
    assert reconcile_clinic(clinic.pk).outcome == "converged"
    clinic.refresh_from_db()
    return clinic


def login(user):
    client = Client()
    client.force_login(user)
    return client


def assert_plain(html: str, where: str) -> None:
    found = jargon_in(visible_text(html))
    assert not found, f"{where}: " + "; ".join(found)


def test_a_test_call_answers_in_one_sentence_with_the_details_folded(live, owner):
    client = login(owner)
    response = client.post(
        reverse("tenants:test_call", args=[live.slug]), {"from": "(415) 555-9876"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert (
        "A call to +1 415 555 0131 now reaches your receptionist, Bright Smile Dental "
        "English (US) line." in html
    )
    assert "data-focus-on-load" in html and "js/result.js" in html
    prov = Provisioning.objects.for_clinic(live).get()
    advanced = html[html.index('<details class="advanced">') :]
    assert prov.trunk_id in advanced and prov.dispatch_rule_id in advanced
    assert_plain(html, "test call result")


def test_a_test_call_before_going_live_says_what_to_do(clinic, owner, lk):
    services.phone_number_add(clinic=clinic, number=A)
    html = (
        login(owner)
        .post(reverse("tenants:test_call", args=[clinic.slug]), {"from": "+14155559876"})
        .content.decode()
    )
    assert "A call to +1 415 555 0131 does not reach your receptionist yet: press Go live" in html
    assert_plain(html, "test call before go-live")


@pytest.mark.parametrize("role", ["owner", "viewer"])  # forms, and the read-only summaries
def test_every_clinic_page_is_free_of_jargon_outside_the_advanced_disclosure(live, owner, role):
    services.trunk_settings_update(
        clinic=live,
        allowed_addresses=["192.0.2.0/24"],
        auth_username="bright",
        auth_password="trunk-Secret-42",
        krisp_enabled=True,
    )
    ProvisioningEvent.objects.create(
        clinic=live, action="create_rule", outcome="error", detail="twirp unavailable"
    )
    Call.objects.create(
        clinic=live, room_sid="RM_1", room_name=f"{live.room_prefix}_9876_x", mapped_by="trunk"
    )
    Provisioning.objects.for_clinic(live).update(
        state=Provisioning.State.FAILED,
        last_error="LiveKit rejected the request (invalid_argument): trunk conflict",
        last_error_code="invalid_argument",
    )
    draft = make_clinic(owner, "Draft Dental")
    message = Message.objects.create(
        clinic=live,
        room_name="x",
        caller_last4="0199",
        reason="Call me back",
        idempotency_key="k",
        body_hash="x",
    )
    line = receptionist_create(clinic=live, name="Spanish line", language="es-ES")
    user = owner
    if role == "viewer":
        user = add_member(live, "viewer")
        Membership.objects.create(clinic=draft, user=user, role="viewer")
    client = login(user)
    pages = {
        "dashboard": reverse("tenants:dashboard", args=[live.slug]),
        "status": None,
        "test call": reverse("tenants:test_call", args=[live.slug]),
        "team": reverse("tenants:team", args=[live.slug]),
        **({"offboard": reverse("tenants:offboard", args=[live.slug])} if role == "owner" else {}),
        **{
            f"settings {s}": reverse("tenants:settings", args=[live.slug, s])
            for s in ("details", "numbers", "agent", "carrier")
        },
        **{
            f"setup {s}": reverse("tenants:setup", args=[draft.slug, s])
            for s in ("details", "numbers", "carrier", "agent", "review")
        },
        "draft dashboard": reverse("tenants:dashboard", args=[draft.slug]),
        "call log": reverse("tenants:call_log", args=[live.slug]),
        "receptionists": reverse("tenants:receptionists", args=[live.slug]),
        "add a receptionist": reverse("tenants:receptionist_add", args=[live.slug]),
        "a receptionist": reverse("tenants:receptionist_edit", args=[live.slug, line.pk]),
        "delete a receptionist": reverse("tenants:receptionist_delete", args=[live.slug, line.pk]),
        "call detail": reverse("tenants:call_detail", args=[live.slug, "RM_1"]),
        "opening hours": reverse("frontdesk:hours", args=[live.slug]),
        "clinic info": reverse("frontdesk:clinic_info", args=[live.slug]),
        "when closed": reverse("frontdesk:after_hours", args=[live.slug, line.pk]),
        "messages": reverse("frontdesk:messages", args=[live.slug]),
        "a message": reverse("frontdesk:message", args=[live.slug, message.pk]),
    }
    for where, url in pages.items():
        if url is None:
            continue
        response = client.get(url)
        assert response.status_code == 200, where
        assert_plain(response.content.decode(), where)
    # What the dashboard's script writes into the page comes from status.json.
    data = client.get(reverse("tenants:status", args=[live.slug])).json()
    shown = [data["state_sentence"], data["problem"], data["clinic_state_label"]]
    shown += [s["title"] for s in data["steps"]] + [e["sentence"] for e in data["events"]]
    shown += [f"{i['title']} {i['detail']}" for i in data["checklist"]]
    assert not jargon_in(" ".join(shown)), jargon_in(" ".join(shown))


def test_the_checker_finds_jargon_and_ignores_the_disclosure():
    assert jargon_in(visible_text("<p>Your SIP trunk is ready</p>"))
    assert jargon_in(visible_text("<p>dispatched by LiveKit</p>"))
    hidden = '<details class="advanced"><summary>x</summary><p>Trunk ID ST_1</p></details>'
    assert not jargon_in(visible_text(f"<p>All good</p>{hidden}<p>Still fine</p>"))
    assert not jargon_in(visible_text("<p hidden>trunk</p><script>sip()</script>"))
    assert not jargon_in(visible_text("<p>Gossip over sipping tea by the trunkless tree</p>"))
    assert jargon_in("Trunks") and jargon_in("room prefixes") and jargon_in("metadata")
