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
