"""Messages: the agent's idempotent post, the clinic's inbox (API and web), who sees the
caller's number, handling, the email, and the call log's link."""

from __future__ import annotations

import uuid
from unittest import mock

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from frontdesk.messages import email_messages_set
from frontdesk.models import Message
from frontdesk.tasks import email_message
from telephony.agent_tokens import agent_token_create
from telephony.models import Call
from telephony.receptionists import receptionist_create
from tenants.models import Clinic
from tests.api_helpers import api_as, clinic_url

pytestmark = pytest.mark.django_db
URL = "/api/v1/agent/messages"


@pytest.fixture
def live(clinic):
    Clinic.objects.filter(pk=clinic.pk).update(state=Clinic.State.LIVE)
    clinic.refresh_from_db()
    return clinic


@pytest.fixture
def agent():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {agent_token_create(name='a')[1]}")
    return client


def body(clinic, **changes):
    data = {
        "room": f"{clinic.room_prefix}_+14155550199_abcDEF",
        "caller_name": "Ana Lopez",
        "callback_number": "+1 415 555 0123",
        "reason": "Wants to move Tuesday's cleaning to Thursday.",
        "urgency": "normal",
    }
    data.update(changes)
    return data


def post(agent, data, key="key-1"):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return agent.post(URL, data, format="json", **headers)


def test_a_message_is_stored_once_and_a_retry_is_recognised(agent, live):
    first = post(agent, body(live))
    assert first.status_code == 201 and first.json()["created"] is True
    again = post(agent, body(live))
    assert again.status_code == 200
    assert again.json() == {"id": first.json()["id"], "created": False}
    assert Message.objects.count() == 1
    row = Message.objects.get()
    assert row.room_name == f"{live.room_prefix}_***0199_abcDEF"
    assert (row.caller_number, row.caller_last4) == ("+14155550199", "0199")
    assert row.callback_number == "+14155550123" and row.receptionist is not None


def test_the_same_key_for_a_different_message_is_409(agent, live):
    post(agent, body(live))
    r = post(agent, body(live, reason="Something else"))
    assert r.status_code == 409 and "Idempotency-Key" in r.json()
    assert Message.objects.count() == 1


def test_a_new_key_is_a_new_message(agent, live):
    post(agent, body(live), key="a")
    post(agent, body(live), key="b")
    assert Message.objects.count() == 2


@pytest.mark.parametrize(
    ("change", "key", "field"),
    [
        ({}, None, "Idempotency-Key"),
        ({}, "has space", "Idempotency-Key"),
        ({"reason": "  "}, "k", "reason"),
        ({"urgency": "panic"}, "k", "urgency"),
        ({"callback_number": "call me"}, "k", "callback_number"),
        ({"caller_name": "a\nb"}, "k", "caller_name"),
        ({"room": ""}, "k", "room"),
        ({"clinic_id": "x"}, "k", "clinic_id"),
    ],
)
def test_bad_posts_are_400_naming_the_field(agent, live, change, key, field):
    r = post(agent, body(live, **change), key=key)
    assert r.status_code == 400 and field in r.json(), r.content
    assert not Message.objects.exists()


def test_a_room_that_is_no_live_clinics_is_404(agent, clinic):
    assert post(agent, body(clinic)).status_code == 404  # clinic is a draft
    assert post(agent, body(clinic, room="nobody_+14155550199_x")).status_code == 404


def test_user_credentials_do_not_open_the_agent_endpoint(live, owner):
    assert post(api_as(owner), body(live)).status_code == 401


def test_the_caller_comes_from_the_call_log_row_when_there_is_one(agent, live):
    room = f"{live.room_prefix}_line_abc"  # a rule that hides the number
    Call.objects.create(
        clinic=live,
        room_sid="RM_1",
        room_name=room,
        caller_last4="0142",
        caller_number="+14155550142",
        mapped_by="trunk",
    )
    post(agent, body(live, room=room))
    assert Message.objects.get().caller_number == "+14155550142"


def test_the_line_in_the_room_name_picks_the_receptionist(agent, live):
    spanish = receptionist_create(clinic=live, name="Spanish line")
    post(agent, body(live, room=f"{live.room_prefix}_{spanish.slug}_+14155550199_x"))
    assert Message.objects.get().receptionist_id == spanish.pk


def test_list_masks_the_caller_for_everyone_detail_shows_it_to_owners(agent, live, owner, viewer):
    message_id = post(agent, body(live)).json()["id"]
    for user in (owner, viewer):
        listed = api_as(user).get(clinic_url(live, "messages/")).json()["results"]
        assert listed[0]["caller"] == "***0199" and listed[0]["callback_number"] == "***0123"
    detail = api_as(owner).get(clinic_url(live, f"messages/{message_id}/")).json()
    assert detail["caller"] == "+14155550199" and detail["callback_number"] == "+14155550123"
    masked = api_as(viewer).get(clinic_url(live, f"messages/{message_id}/")).json()
    assert masked["caller"] == "***0199"


def test_owner_marks_a_message_handled_and_viewers_cannot(agent, live, owner, viewer):
    message_id = post(agent, body(live)).json()["id"]
    url = clinic_url(live, f"messages/{message_id}/")
    assert api_as(viewer).patch(url, {"handled": True}, format="json").status_code == 403
    assert api_as(owner).patch(url, {"handled": "yes"}, format="json").status_code == 400
    r = api_as(owner).patch(url, {"handled": True}, format="json")
    assert r.status_code == 200
    assert r.json()["handled"] is True and r.json()["handled_by"] == owner.email
    new = api_as(owner).get(clinic_url(live, "messages/?handled=false")).json()["results"]
    done = api_as(owner).get(clinic_url(live, "messages/?handled=true")).json()["results"]
    assert new == [] and [m["id"] for m in done] == [message_id]


def test_email_goes_to_owners_and_admins_once_when_opted_in(
    agent, live, owner, admin_member, viewer, django_capture_on_commit_callbacks
):
    with (
        mock.patch("frontdesk.messages._publish_email") as publish,
        django_capture_on_commit_callbacks(execute=True),
    ):
        post(agent, body(live), key="before-opt-in")
    publish.assert_not_called()
    email_messages_set(clinic=live, enabled=True)
    with (
        mock.patch("frontdesk.messages._publish_email") as publish,
        django_capture_on_commit_callbacks(execute=True),
    ):
        message_id = post(agent, body(live, urgency="urgent"), key=str(uuid.uuid4())).json()["id"]
    publish.assert_called_once_with(message_id)
    assert email_message(message_id) is True
    assert email_message(message_id) is False  # once
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sorted(sent.to) == sorted([owner.email, admin_member.email])
    assert sent.subject.startswith("Urgent:") and "***0199" in sent.body
    assert "+14155550199" not in sent.body and "cleaning" not in sent.body
    assert f"/messages/{message_id}/" in sent.body


def test_the_email_opt_in_over_the_api_is_the_inbox_checkbox(live, owner, viewer):
    url = clinic_url(live, "messages/email/")
    assert api_as(viewer).get(url).json() == {"email_owners_and_admins": False}
    r = api_as(owner).patch(url, {"email_owners_and_admins": True}, format="json")
    assert r.status_code == 200 and r.json() == {"email_owners_and_admins": True}
    web = Client()
    web.force_login(owner)
    inbox = web.get(reverse("frontdesk:messages", args=[live.slug])).content.decode()
    assert 'id="id_email_messages" checked' in inbox
    web.post(reverse("frontdesk:messages", args=[live.slug]), {})  # the checkbox cleared
    assert api_as(viewer).get(url).json() == {"email_owners_and_admins": False}
    assert api_as(viewer).patch(url, {"email_owners_and_admins": True}).status_code == 403


@pytest.mark.parametrize(
    ("sent", "field"),
    [
        ({}, "email_owners_and_admins"),
        ({"email_owners_and_admins": "yes"}, "email_owners_and_admins"),
        ({"email_owners_and_admins": 1}, "email_owners_and_admins"),
        ({"email_owners_and_admins": None}, "email_owners_and_admins"),
        ({"email_owners_and_admins": True, "email": True}, "email"),
    ],
)
def test_a_bad_email_opt_in_names_the_field_and_changes_nothing(live, owner, sent, field):
    url = clinic_url(live, "messages/email/")
    r = api_as(owner).patch(url, sent, format="json")
    assert r.status_code == 400 and field in r.json(), r.content
    assert api_as(owner).get(url).json() == {"email_owners_and_admins": False}


def test_the_inbox_page_masks_callers_and_the_message_page_shows_owners_the_number(
    agent, live, owner, viewer
):
    message_id = post(agent, body(live)).json()["id"]
    owner_web, viewer_web = Client(), Client()
    owner_web.force_login(owner)
    viewer_web.force_login(viewer)
    inbox = owner_web.get(reverse("frontdesk:messages", args=[live.slug])).content.decode()
    assert "***0199" in inbox and "+14155550199" not in inbox and "Ana Lopez" in inbox
    page = reverse("frontdesk:message", args=[live.slug, message_id])
    assert "+14155550199" in owner_web.get(page).content.decode()
    assert "+14155550199" not in viewer_web.get(page).content.decode()
    assert viewer_web.post(page, {"handled": "true"}).status_code == 403
    assert owner_web.post(page, {"handled": "true"}).status_code == 302
    handled = owner_web.get(reverse("frontdesk:messages", args=[live.slug]) + "?show=handled")
    assert f"Handled by {owner.email}" in handled.content.decode()


def test_the_call_log_links_to_the_message(agent, live, owner):
    room = f"{live.room_prefix}_+14155550199_abcDEF"
    Call.objects.create(
        clinic=live,
        room_sid="RM_9",
        room_name=f"{live.room_prefix}_***0199_abcDEF",
        caller_last4="0199",
        mapped_by="trunk",
    )
    message_id = post(agent, body(live, room=room)).json()["id"]
    web = Client()
    web.force_login(owner)
    page = web.get(reverse("tenants:call_detail", args=[live.slug, "RM_9"])).content.decode()
    assert reverse("frontdesk:message", args=[live.slug, message_id]) in page


def test_the_inbox_shows_times_in_the_clinic_zone(agent, live, owner):
    Clinic.objects.filter(pk=live.pk).update(timezone="America/New_York")
    post(agent, body(live))
    web = Client()
    web.force_login(owner)
    inbox = web.get(reverse("frontdesk:messages", args=[live.slug])).content.decode()
    assert " ES" in inbox or " ED" in inbox  # EST or EDT, not UTC


def test_erasing_a_caller_erases_their_messages(agent, live):
    from telephony.outcomes import erase_caller

    post(agent, body(live), key="a")
    post(agent, body(live, room=f"{live.room_prefix}_+14155550111_x"), key="b")
    erased = erase_caller(clinic=live, number="+14155550123")  # the call-back number
    assert erased.messages == 2 and not Message.objects.exists()


def test_messages_expire_with_the_clinics_calls(agent, live):
    from datetime import timedelta

    from django.utils import timezone

    from telephony.outcomes import purge_expired

    post(agent, body(live), key="old")
    post(agent, body(live), key="new")
    Message.objects.filter(idempotency_key="old").update(
        created_at=timezone.now() - timedelta(days=400)
    )
    assert purge_expired().messages == 1
    assert list(Message.objects.values_list("idempotency_key", flat=True)) == ["new"]
