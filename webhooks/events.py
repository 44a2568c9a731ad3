"""What each event says, and writing it to the outbox in the caller's transaction.

`emit` writes one WebhookEvent and one WebhookDelivery per enabled endpoint of the clinic
that chose the event's type, then publishes the deliveries when the transaction commits.
An event with a key ("call.ended:<room sid>") is written at most once per clinic (a unique
constraint), so a webhook LiveKit redelivers, or the agent's retried outcome, never makes a
second event.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from celery import current_app
from django.db import IntegrityError, transaction
from django.utils import timezone

from telephony.models import Call, CallOutcome, PhoneNumber, Provisioning
from tenants.models import Clinic
from webhooks.models import EventType, WebhookDelivery, WebhookEndpoint, WebhookEvent

logger = logging.getLogger(__name__)

DELIVER_TASK = "webhooks.deliver"


def iso(when: datetime | None) -> str | None:
    return when.isoformat().replace("+00:00", "Z") if when else None


def subscribers(clinic_id: Any, event_type: str) -> list[WebhookEndpoint]:
    endpoints = WebhookEndpoint.objects.filter(clinic_id=clinic_id, enabled=True)
    return [e for e in endpoints if event_type in e.events]


def emit(
    clinic: Clinic,
    event_type: str,
    data: dict[str, Any],
    *,
    key: str = "",
    room_name: str = "",
    endpoints: list[WebhookEndpoint] | None = None,
) -> WebhookEvent | None:
    """Write the event and its deliveries (inside the caller's transaction)."""
    targets = subscribers(clinic.pk, event_type) if endpoints is None else endpoints
    if not targets:
        return None
    if key and WebhookEvent.objects.filter(clinic=clinic, key=key).exists():
        return None
    now = timezone.now()
    payload = {"type": event_type, "timestamp": iso(now), "data": data}
    try:
        with transaction.atomic():
            event = WebhookEvent.objects.create(
                clinic=clinic, type=event_type, key=key, room_name=room_name, payload=payload
            )
    except IntegrityError:  # a concurrent transaction wrote this keyed event first
        return None
    deliveries = WebhookDelivery.objects.bulk_create(
        [WebhookDelivery(endpoint=e, event=event, next_attempt_at=now) for e in targets]
    )
    publish_on_commit([d.pk for d in deliveries])
    return event


def publish(delivery_ids: list[int], countdown: float = 0) -> None:
    """Send deliver tasks; a broker outage loses nothing (the sweeper finds due deliveries)."""
    try:
        for delivery_id in delivery_ids:
            current_app.signature(DELIVER_TASK, args=[delivery_id]).apply_async(
                countdown=countdown or None
            )
    except Exception:
        logger.warning(
            "could not enqueue %d webhook deliveries (broker unreachable); "
            "the webhook sweeper will send them",
            len(delivery_ids),
        )


def publish_on_commit(delivery_ids: list[int]) -> None:
    if delivery_ids:
        transaction.on_commit(lambda: publish(delivery_ids), robust=True)


# --- payloads ------------------------------------------------------------------------------


def clinic_data(clinic: Clinic) -> dict[str, Any]:
    return {"id": str(clinic.pk), "slug": clinic.slug, "name": clinic.name}


def call_data(call: Call) -> dict[str, Any]:
    return {
        "id": call.room_sid,
        "room_name": call.room_name,
        "caller": call.caller_number or call.caller_masked or None,
        "called_number": call.called_number or None,
        "status": call.status,
        "started_at": iso(call.started_at),
        "answered_at": iso(call.answered_at),
        "ended_at": iso(call.ended_at),
        "duration_seconds": call.duration_seconds,
        "is_test": call.is_test,
    }


def outcome_data(outcome: CallOutcome | None) -> dict[str, Any] | None:
    if outcome is None:
        return None
    return {
        "consent": outcome.consent,
        "consent_at": iso(outcome.consent_at),
        "outcome": outcome.outcome,
        "summary": outcome.summary,
        "transcript": outcome.transcript or None,
    }


# --- the events ----------------------------------------------------------------------------


def of_type(
    endpoints: list[WebhookEndpoint] | None, event_type: str
) -> list[WebhookEndpoint] | None:
    """The clinic's enabled endpoints (read once by the caller) that want this event type;
    None lets emit read them itself."""
    return None if endpoints is None else [e for e in endpoints if event_type in e.events]


def call_started(call: Call, endpoints: list[WebhookEndpoint] | None = None) -> WebhookEvent | None:
    data = {"clinic": clinic_data(call.clinic), "call": call_data(call)}
    return emit(
        call.clinic,
        EventType.CALL_STARTED,
        data,
        key=f"call.started:{call.room_sid}",
        room_name=call.room_name,
        endpoints=of_type(endpoints, EventType.CALL_STARTED),
    )


def call_ended(
    call: Call, outcome: CallOutcome | None, endpoints: list[WebhookEndpoint] | None = None
) -> WebhookEvent | None:
    """call.ended (once), preceded by call.started if it was never sent, and followed by
    message.taken when the receptionist took a message. `endpoints`: the clinic's enabled
    endpoints, if the caller has read them already."""
    call_started(call, endpoints)
    data = {
        "clinic": clinic_data(call.clinic),
        "call": call_data(call),
        "outcome": outcome_data(outcome),
    }
    event = emit(
        call.clinic,
        EventType.CALL_ENDED,
        data,
        key=f"call.ended:{call.room_sid}",
        room_name=call.room_name,
        endpoints=of_type(endpoints, EventType.CALL_ENDED),
    )
    if outcome is not None and outcome.outcome == CallOutcome.Outcome.MESSAGE_TAKEN:
        emit(
            call.clinic,
            EventType.MESSAGE_TAKEN,
            {
                "clinic": clinic_data(call.clinic),
                "call": call_data(call),
                "message": outcome.summary,
            },
            key=f"message.taken:{call.room_sid}",
            room_name=call.room_name,
            endpoints=of_type(endpoints, EventType.MESSAGE_TAKEN),
        )
    return event


def number_changed(number: PhoneNumber, *, added: bool) -> WebhookEvent | None:
    event_type = EventType.NUMBER_ADDED if added else EventType.NUMBER_REMOVED
    data = {
        "clinic": clinic_data(number.clinic),
        "number": {"e164": number.e164, "label": number.label},
    }
    return emit(number.clinic, event_type, data)


def provisioning_changed(
    clinic: Clinic, previous: str, state: str, changed_at: datetime
) -> WebhookEvent | None:
    labels = dict(Provisioning.State.choices)
    data = {
        "clinic": clinic_data(clinic),
        "provisioning": {
            "state": state,
            "previous_state": previous,
            "description": labels.get(state, state),
            "changed_at": iso(changed_at),
        },
    }
    return emit(clinic, EventType.PROVISIONING_STATE_CHANGED, data)


def test_event(endpoint: WebhookEndpoint) -> WebhookEvent | None:
    from webhooks.models import TEST_EVENT

    data = {
        "clinic": clinic_data(endpoint.clinic),
        "message": "A test event from Switchboard. Verify its signature and answer 2xx.",
    }
    return emit(endpoint.clinic, TEST_EVENT, data, endpoints=[endpoint])
