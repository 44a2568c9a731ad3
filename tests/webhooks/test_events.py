"""Events into the outbox, in the transaction of the change: calls (LiveKit's webhooks and
the agent's outcome, each once whatever the redeliveries), numbers, the phone line's state,
rollback, erasure and retention."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from rest_framework.test import APIClient

from telephony import services as tel
from telephony.agent_tokens import agent_token_create
from telephony.models import Call
from telephony.outcomes import erase_caller
from tests.telephony.test_webhooks import call_events, post, room_of, sip
from tests.telephony.webhook_helpers import KEY, SECRET
from tests.webhooks.conftest import make_endpoint
from webhooks import sweeper
from webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent

pytestmark = pytest.mark.django_db
CALLER = "+14155559876"
OUTCOME = {
    "consent": "granted",
    "outcome": "message_taken",
    "summary": "Please ask Dr Lee to call me back.",
    "transcript": "Caller: please ask Dr Lee to call me back.",
}


@pytest.fixture(autouse=True)
def livekit_keys(settings):
    settings.LIVEKIT_API_KEY = KEY
    settings.LIVEKIT_API_SECRET = SECRET


@pytest.fixture
def agent(db):
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Bearer {agent_token_create(name='agent')[1]}")
    return c


def types(clinic):
    return sorted(WebhookEvent.objects.filter(clinic=clinic).values_list("type", flat=True))


def participant(clinic):
    return sip(clinic_attr=str(clinic.pk), **{"sip.phoneNumber": CALLER})


def post_outcome(agent, clinic, body=OUTCOME):
    return agent.post(f"/api/v1/agent/calls/{room_of(clinic)}/outcome", body, format="json")


def test_a_call_makes_started_then_ended_with_the_outcome_once(client, agent, clinic):
    endpoint, _ = make_endpoint(clinic, events=["call.started", "call.ended"])
    events = call_events(clinic, participant=participant(clinic))
    for text in events[:2]:
        post(client, text)
    assert types(clinic) == ["call.started"]
    for text in events[2:]:
        post(client, text)
    assert types(clinic) == ["call.started"]  # call.ended waits for the agent's outcome
    assert post_outcome(agent, clinic).status_code == 201
    assert post_outcome(agent, clinic).status_code == 200  # a retry
    for text in events:  # LiveKit redelivers everything
        post(client, text)
    assert types(clinic) == ["call.ended", "call.started"]
    ended = WebhookEvent.objects.get(type="call.ended").payload
    assert ended["type"] == "call.ended" and ended["timestamp"].endswith("Z")
    data = ended["data"]
    assert data["clinic"]["slug"] == clinic.slug
    assert data["call"]["id"] == "RM_test0000001" and data["call"]["caller"] == CALLER
    assert data["call"]["status"] == "completed" and data["call"]["duration_seconds"] == 60
    assert data["outcome"] == {
        "consent": "granted",
        "consent_at": None,
        "outcome": "message_taken",
        "summary": OUTCOME["summary"],
        "transcript": OUTCOME["transcript"],
    }
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 2


def test_an_outcome_first_then_the_end(client, agent, clinic):
    make_endpoint(clinic, events=["call.ended", "message.taken"])
    events = call_events(clinic, participant=participant(clinic))
    post(client, events[0])
    post_outcome(agent, clinic)
    assert types(clinic) == []
    for text in events[1:]:
        post(client, text)
    assert types(clinic) == ["call.ended", "message.taken"]
    taken = WebhookEvent.objects.get(type="message.taken").payload["data"]
    assert taken["message"] == OUTCOME["summary"] and taken["call"]["caller"] == CALLER


def test_a_declined_call_never_carries_a_transcript(client, agent, clinic):
    make_endpoint(clinic, events=["call.ended"])
    for text in call_events(clinic, participant=participant(clinic)):
        post(client, text)
    post_outcome(agent, clinic, {**OUTCOME, "consent": "declined"})
    data = WebhookEvent.objects.get(type="call.ended").payload["data"]
    assert data["outcome"]["consent"] == "declined" and data["outcome"]["transcript"] is None


def test_no_outcome_after_the_wait_ends_the_call_without_one(client, clinic, settings):
    endpoint, _ = make_endpoint(clinic, events=["call.ended"])
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        created_at=timezone.now() - timedelta(hours=1)
    )
    for text in call_events(clinic, participant=participant(clinic)):
        post(client, text)
    assert sweeper.finish_calls(timezone.now()) == 0  # still waiting for the agent
    Call.objects.update(
        ended_at=timezone.now() - timedelta(seconds=settings.WEBHOOKS_OUTCOME_WAIT_SECONDS + 1)
    )
    assert sweeper.finish_calls(timezone.now()) == 1
    assert sweeper.finish_calls(timezone.now()) == 0
    assert WebhookEvent.objects.get(type="call.ended").payload["data"]["outcome"] is None


def test_the_sweeper_finishes_a_call_whose_end_and_outcome_raced(client, agent, clinic):
    make_endpoint(clinic, events=["call.ended"])
    for text in call_events(clinic, participant=participant(clinic)):
        post(client, text)
    Call.objects.update(ended_at=timezone.now())
    post_outcome(agent, clinic)
    WebhookEvent.objects.all().delete()  # as if both transactions missed each other
    assert sweeper.finish_calls(timezone.now()) == 1
    assert WebhookEvent.objects.get().payload["data"]["outcome"]["outcome"] == "message_taken"


def test_calls_from_before_the_endpoint_existed_are_not_sent(client, clinic, settings):
    for text in call_events(clinic, participant=participant(clinic)):
        post(client, text)
    Call.objects.update(ended_at=timezone.now() - timedelta(hours=1))
    make_endpoint(clinic, events=["call.ended"])
    assert sweeper.finish_calls(timezone.now()) == 0


def test_nothing_is_written_without_a_subscribed_enabled_endpoint(client, agent, clinic, other):
    make_endpoint(clinic, events=["number.added"])
    make_endpoint(other, events=["call.started", "call.ended"])
    make_endpoint(clinic, events=["call.started", "call.ended"], enabled=False)
    for text in call_events(clinic, participant=participant(clinic)):
        post(client, text)
    post_outcome(agent, clinic)
    assert WebhookEvent.objects.count() == 0


@pytest.fixture
def other(db):
    from tests.factories import make_clinic

    return make_clinic(name="Other Dental")


def test_the_outbox_rolls_back_with_the_change(clinic):
    make_endpoint(clinic, events=["number.added"])
    with pytest.raises(RuntimeError), transaction.atomic():
        tel.phone_number_add(clinic=clinic, number="+14155550123")
        raise RuntimeError
    assert WebhookEvent.objects.count() == WebhookDelivery.objects.count() == 0


def test_numbers_added_and_removed(clinic):
    make_endpoint(clinic, events=["number.added", "number.removed"])
    tel.phone_number_add(clinic=clinic, number="+14155550123", label="Front desk")
    tel.phone_number_remove(clinic=clinic, e164="+14155550123")
    rows = {e.type: e.payload["data"]["number"] for e in WebhookEvent.objects.all()}
    assert rows == {
        "number.added": {"e164": "+14155550123", "label": "Front desk"},
        "number.removed": {"e164": "+14155550123", "label": "Front desk"},
    }


def test_deleting_a_clinic_sends_nothing(clinic):
    """Numbers deleted with their clinic (the delete's origin) are not announced."""
    from telephony.models import PhoneNumber
    from webhooks.receivers import on_number_deleted

    make_endpoint(clinic, events=["number.removed"])
    number = tel.phone_number_add(clinic=clinic, number="+14155550123")
    on_number_deleted(PhoneNumber, number, origin=clinic)
    assert WebhookEvent.objects.filter(type="number.removed").count() == 0
    on_number_deleted(PhoneNumber, number, origin=number)
    assert WebhookEvent.objects.filter(type="number.removed").count() == 1


def test_erasing_a_caller_erases_the_events_about_them(client, agent, clinic):
    make_endpoint(clinic, events=["call.started", "call.ended"])
    for text in call_events(clinic, participant=participant(clinic)):
        post(client, text)
    post_outcome(agent, clinic)
    assert WebhookEvent.objects.count() == 2
    erased = erase_caller(clinic=clinic, number=CALLER)
    assert erased.events == 2
    assert WebhookEvent.objects.count() == WebhookDelivery.objects.count() == 0


def test_old_finished_events_are_purged(clinic, settings):
    make_endpoint(clinic, events=["number.added"])
    tel.phone_number_add(clinic=clinic, number="+14155550123")
    tel.phone_number_add(clinic=clinic, number="+14155550124")
    old = timezone.now() - timedelta(days=settings.WEBHOOKS_LOG_DAYS + 1)
    WebhookEvent.objects.update(created_at=old)
    first = WebhookDelivery.objects.order_by("id").first()
    WebhookDelivery.objects.filter(pk=first.pk).update(status="succeeded")
    assert sweeper.purge() == 1  # the pending one is kept until it is delivered or fails
    assert WebhookEvent.objects.count() == 1


def test_the_sweeper_republishes_due_deliveries_up_to_the_cap(clinic, published, settings):
    settings.WEBHOOKS_ENDPOINT_CONCURRENCY = 2
    make_endpoint(clinic, events=["number.added"])
    for n in range(4):
        tel.phone_number_add(clinic=clinic, number=f"+1415555012{n}")
    leased = WebhookDelivery.objects.order_by("id").first()
    WebhookDelivery.objects.filter(pk=leased.pk).update(
        lease_until=timezone.now() + timedelta(seconds=30)
    )
    assert sweeper.republish_due(timezone.now()) == 2
    ((ids, _),) = published
    assert leased.pk not in ids


def test_a_clinic_without_endpoints_is_not_asked_again_for_them(client, clinic, other):
    """Decision 0141: whether the clinic has an enabled endpoint comes with the clinic the
    webhook locks; without one, no event reads the endpoints table (another clinic's and a
    disabled one do not count)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    make_endpoint(other, events=["call.started", "call.ended"])
    make_endpoint(clinic, events=["call.started", "call.ended"], enabled=False)
    with CaptureQueriesContext(connection) as queries:
        for text in call_events(clinic, participant=participant(clinic)):
            assert post(client, text).status_code == 200
    reads = [q["sql"].lstrip() for q in queries.captured_queries]
    assert not [sql for sql in reads if sql.startswith('SELECT "webhooks_webhookendpoint"')]
    locks = [sql for sql in reads if "FOR NO KEY UPDATE OF cl" in sql]
    assert len(locks) == 4  # one per event: the clinic, locked, with the answer
    assert all("webhooks_webhookendpoint" in sql for sql in locks)
    assert WebhookEvent.objects.count() == 0


def test_an_endpoint_enabled_between_two_events_gets_the_next_one(client, clinic):
    events = call_events(clinic, participant=participant(clinic))
    post(client, events[0])
    post(client, events[1])
    assert types(clinic) == []
    make_endpoint(clinic, events=["call.started"])
    for text in events[2:]:
        post(client, text)
    assert types(clinic) == ["call.started"]


def test_a_call_whose_clinic_was_read_elsewhere_reads_the_endpoints(client, clinic):
    """A receiver cannot tell "no endpoints" from "not asked" on a clinic loaded another way:
    it reads them itself."""
    from telephony import call_events as signals

    for text in call_events(clinic, participant=participant(clinic))[:2]:
        post(client, text)
    make_endpoint(clinic, events=["call.started"])
    call = Call.objects.get()
    call.clinic  # loaded plainly: no hint on it
    signals.call_updated(call)
    assert types(clinic) == ["call.started"]
