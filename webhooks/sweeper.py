"""The webhook sweeper (every WEBHOOKS_SWEEP_SECONDS): what no broker message may be
trusted with.

1. Due deliveries are published again: a message lost with a Redis restart, a worker killed
   mid-send (its lease expires) and retries hours away all reach a worker from here. At most
   WEBHOOKS_ENDPOINT_CONCURRENCY per endpoint per sweep, so a backlog does not flood the queue.
2. Calls that ended without a call.ended event get one: when their outcome has arrived (a
   race between the agent's report and LiveKit's room_finished), or after
   WEBHOOKS_OUTCOME_WAIT_SECONDS without an outcome (a call the agent never reported).
3. Phone-line state changes, recorded by a database trigger in the transaction that made
   each, become events (decision 0051).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, Value
from django.db.models.functions import Concat
from django.utils import timezone

from telephony.models import Call, CallOutcome
from webhooks import events
from webhooks.models import (
    EventType,
    ProvisioningStateChange,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

logger = logging.getLogger(__name__)

SCAN_LIMIT = 2000
ENDED_LOOKBACK = timedelta(days=1)


@dataclass(frozen=True)
class Swept:
    published: int
    calls_ended: int
    state_changes: int


def sweep(now: datetime | None = None) -> Swept:
    now = now or timezone.now()
    changes = report_provisioning()
    ended = finish_calls(now)
    published = republish_due(now)
    return Swept(published, ended, changes)


def _subscribed(event_type: str) -> dict[Any, datetime]:
    """clinic id -> when its first enabled endpoint choosing this event was created."""
    found: dict[Any, datetime] = {}
    rows = WebhookEndpoint.objects.filter(enabled=True).values_list(
        "clinic_id", "events", "created_at"
    )
    for clinic_id, chosen, created_at in rows:
        if event_type in chosen and (clinic_id not in found or created_at < found[clinic_id]):
            found[clinic_id] = created_at
    return found


def republish_due(now: datetime) -> int:
    cap = settings.WEBHOOKS_ENDPOINT_CONCURRENCY
    due = (
        WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING,
            next_attempt_at__lte=now,
            endpoint__enabled=True,
        )
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lte=now))
        .order_by("next_attempt_at")
        .values_list("id", "endpoint_id")[:SCAN_LIMIT]
    )
    per_endpoint: dict[Any, list[int]] = defaultdict(list)
    for delivery_id, endpoint_id in due:
        if len(per_endpoint[endpoint_id]) < cap:
            per_endpoint[endpoint_id].append(delivery_id)
    ids = [i for chosen in per_endpoint.values() for i in chosen]
    if ids:
        events.publish(ids)
        logger.info("webhook sweeper published %d due deliveries", len(ids))
    return len(ids)


def finish_calls(now: datetime) -> int:
    subscribed = _subscribed(EventType.CALL_ENDED)
    if not subscribed:
        return 0
    wait = timedelta(seconds=settings.WEBHOOKS_OUTCOME_WAIT_SECONDS)
    sent = WebhookEvent.objects.filter(
        clinic_id=OuterRef("clinic_id"),
        key=Concat(Value("call.ended:"), OuterRef("room_sid")),
    )
    outcome = CallOutcome.objects.filter(
        clinic_id=OuterRef("clinic_id"), room_name=OuterRef("room_name")
    )
    count = 0
    for clinic_id, since in subscribed.items():
        calls = (
            Call.objects.filter(
                clinic_id=clinic_id,
                ended_at__isnull=False,
                ended_at__gte=max(since, now - ENDED_LOOKBACK),
            )
            .filter(~Exists(sent))
            .filter(Q(Exists(outcome)) | Q(ended_at__lte=now - wait))
            .values_list("pk", flat=True)[:200]
        )
        for call_id in calls:
            with transaction.atomic():
                call = (  # the call row only: a webhook holds the clinic's, then the call's
                    Call.objects.select_for_update(of=("self",))
                    .select_related("clinic")
                    .filter(pk=call_id)
                    .first()
                )
                if call is None:
                    continue
                found = (
                    CallOutcome.objects.for_clinic(call.clinic)
                    .filter(room_name=call.room_name)
                    .first()
                )
                if events.call_ended(call, found) is not None:
                    count += 1
    return count


def report_provisioning() -> int:
    """Turn recorded phone-line state changes into events, oldest first; each record is
    deleted in the transaction that writes its event, so each change is reported once.
    Records another sweeper holds are skipped (it reports them)."""
    with transaction.atomic():
        changes = list(
            ProvisioningStateChange.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("clinic")
            .order_by("id")[:SCAN_LIMIT]
        )
        for change in changes:
            events.provisioning_changed(
                change.clinic, change.previous, change.state, change.changed_at
            )
        ProvisioningStateChange.objects.filter(pk__in=[c.pk for c in changes]).delete()
    return len(changes)


def purge(now: datetime | None = None) -> int:
    """Delete events older than WEBHOOKS_LOG_DAYS whose deliveries are all finished."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.WEBHOOKS_LOG_DAYS)
    unfinished = WebhookDelivery.objects.filter(
        event=OuterRef("pk"), status=WebhookDelivery.Status.PENDING
    )
    old = WebhookEvent.objects.filter(created_at__lt=cutoff).filter(~Exists(unfinished))
    return old.delete()[1].get(WebhookEvent._meta.label, 0)
