"""The agent's outcome and LiveKit's webhooks lock rows in an order that cannot deadlock.

A LiveKit webhook takes the clinic row (FOR NO KEY UPDATE) and then the call row. The
outcome's receiver locks the call row only: had it also locked the joined clinic row (a
plain FOR UPDATE over a join locks both), it could hold the call while waiting for the
clinic, and a webhook of the same call could hold the clinic while waiting for the call.
Two real connections: the webhook's clinic lock is held open while the outcome is posted.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from telephony.outcomes import record_outcome
from tenants.models import Clinic
from tests.telephony.test_webhooks import call_events, post, room_of
from tests.webhooks.conftest import make_endpoint
from tests.webhooks.test_events import OUTCOME, livekit_keys, participant  # noqa: F401
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_outcome_does_not_wait_for_a_webhook_holding_the_clinic(client, clinic):
    make_endpoint(clinic, events=["call.ended"])
    for text in call_events(clinic, participant=participant(clinic)):
        post(client, text)  # the call has ended; call.ended waits for the outcome
    outcome: list[object] = []

    def post_outcome() -> None:
        try:
            outcome.append(record_outcome(room_name=room_of(clinic), **OUTCOME))
        except Exception as exc:  # reported below, with the assertion
            outcome.append(exc)
        finally:
            connection.close()

    with transaction.atomic():  # a webhook of the same clinic, between its two locks
        Clinic.objects.select_for_update(no_key=True).get(pk=clinic.pk)
        agent = threading.Thread(target=post_outcome)
        agent.start()
        # Generous: the outcome needs no lock held here, so it ends at once; before the fix
        # it waited for this transaction (and deadlocked once this one took the call row).
        agent.join(timeout=30)
        finished_while_held = not agent.is_alive()
    agent.join()
    assert finished_while_held, "the outcome waited for the clinic row"
    assert not isinstance(outcome[0], Exception), outcome[0]
    assert WebhookEvent.objects.filter(clinic=clinic, type="call.ended").count() == 1
