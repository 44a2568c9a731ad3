"""Signal receivers that turn changes elsewhere into events, in the same transaction."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from telephony import call_events
from telephony.models import Call, CallOutcome, PhoneNumber
from tenants.models import Clinic
from webhooks import events
from webhooks.models import WebhookEndpoint, WebhookEvent

# Whether the clinic has an enabled endpoint, read by the LiveKit webhook in the statement
# that locks the clinic (telephony.call_events.CLINIC_FACTS, decision 0141).
HAS_ENDPOINTS = "has_webhook_endpoints"


HAS_ENDPOINTS_SQL = (
    "EXISTS (SELECT 1 FROM webhooks_webhookendpoint e WHERE e.clinic_id = cl.id AND e.enabled)"
)


@receiver(call_events.call_changed)
def on_call_changed(sender: Any, call: Call, **kwargs: Any) -> None:
    seen_caller = bool(call.caller_last4 or call.caller_number or call.answered_at)
    if not seen_caller and call.ended_at is None:
        return
    # The clinic the webhook found and locked says whether it has endpoints (most have none,
    # and then there is nothing to read or write); a clinic loaded any other way does not.
    clinic = call._state.fields_cache.get("clinic")
    if clinic is not None and getattr(clinic, HAS_ENDPOINTS, None) is False:
        return
    # Every LiveKit webhook of a call comes through here: read the clinic's endpoints once.
    endpoints = list(WebhookEndpoint.objects.filter(clinic_id=call.clinic_id, enabled=True))
    if not endpoints:
        return
    events.call_started(call, endpoints)
    if call.ended_at is None:
        return
    outcome = CallOutcome.objects.for_clinic(call.clinic).filter(room_name=call.room_name).first()
    # Without an outcome yet, call.ended waits for the agent's report (or, after
    # WEBHOOKS_OUTCOME_WAIT_SECONDS, goes without it: see webhooks.sweeper).
    if outcome is not None:
        events.call_ended(call, outcome, endpoints)


@receiver(call_events.outcome_posted)
def on_outcome_posted(sender: Any, outcome: CallOutcome, **kwargs: Any) -> None:
    # Locking the call waits for a concurrent room_finished to commit, so one of the two
    # transactions sees both the end and the outcome. The call row only (`of`): a webhook
    # locks the clinic row and then the call's, so holding the call while waiting for the
    # clinic would deadlock with it.
    call = (
        Call.objects.select_for_update(of=("self",))
        .select_related("clinic")
        .filter(clinic=outcome.clinic, room_name=outcome.room_name)
        .first()
    )
    if call is not None and call.ended_at is not None:
        events.call_ended(call, outcome)


@receiver(call_events.erase_calls)
def on_erase_calls(sender: Any, clinic: Clinic, room_names: list[str], **kwargs: Any) -> int:
    return (
        WebhookEvent.objects.filter(clinic=clinic, room_name__in=room_names)
        .delete()[1]
        .get(WebhookEvent._meta.label, 0)
    )


@receiver(post_save, sender=PhoneNumber)
def on_number_saved(sender: Any, instance: PhoneNumber, created: bool, **kwargs: Any) -> None:
    if created and not kwargs.get("raw"):
        events.number_changed(instance, added=True)


@receiver(post_delete, sender=PhoneNumber)
def on_number_deleted(
    sender: Any, instance: PhoneNumber, origin: Any = None, **kwargs: Any
) -> None:
    # Deleting the clinic itself deletes its numbers too: nobody is left to tell.
    if isinstance(origin, Clinic):
        return
    if origin is not None and getattr(origin, "model", None) is Clinic:
        return
    events.number_changed(instance, added=False)
