"""Signals other apps (webhooks) listen to, so telephony does not import them.

Every signal is sent inside the transaction that made the change, so a receiver that writes
(an outbox row) commits or rolls back with it.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.dispatch import Signal

from telephony.models import Call, CallOutcome
from tenants.models import Clinic

# call=Call: a call's row changed (started, answered, ended).
call_changed = Signal()
# outcome=CallOutcome: the agent posted a call's outcome.
outcome_posted = Signal()
# clinic=Clinic, room_names=[...]: erase what a receiver holds about these calls; a receiver
# returns how many rows it erased.
erase_calls = Signal()


# What a receiver of call_changed wants to know about the call's clinic at every event, read
# by the webhook in the statement that finds and locks the clinic instead of by the receiver
# in one more round trip (decision 0141): name -> an SQL expression over the clinic row,
# aliased `cl` (a constant of the registering app, never user input). The value lands on
# `call.clinic` under that name; a receiver must treat a missing attribute as "not known"
# and read it itself.
CLINIC_FACTS: dict[str, str] = {}


def call_updated(call: Call) -> None:
    call_changed.send(sender=Call, call=call)


def outcome_recorded(outcome: CallOutcome) -> None:
    outcome_posted.send(sender=CallOutcome, outcome=outcome)


def erase_for_rooms(clinic: Clinic, room_names: Sequence[str]) -> int:
    if not room_names:
        return 0
    replies = erase_calls.send(sender=Clinic, clinic=clinic, room_names=list(room_names))
    total = 0
    for _, count in replies:
        if isinstance(count, int):
            total += count
    return total
