"""The provisioning lease, on one clock: the database's.

A lease is a compare-and-set on the clinic's provisioning row (owner, expiry). Its expiry is
written and compared with the database's clock (`Now()` in the statement, or `db_now()`
read from the database), never with the worker's: workers whose clocks drift apart would
otherwise each see the other's lease as expired and both hold it.

What stays on the worker's clock is only the *renewal window* (`renew_window_seconds`):
"how long ago did this run renew", measured with `time.monotonic()` on one machine, which no
other machine's clock can affect.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.models import DateTimeField, DurationField, ExpressionWrapper, F, Q
from django.db.models.expressions import Combinable
from django.db.models.functions import Now
from django.utils import timezone

from telephony.models import Provisioning


def lease_length() -> timedelta:
    return timedelta(seconds=settings.PROVISIONING_LEASE_SECONDS)


def lease_expiry() -> Combinable:
    """`lease_until` for a lease taken or renewed by this statement: the database's now
    plus the lease length (evaluated by the database, not by this worker)."""
    return ExpressionWrapper(Now() + lease_length(), output_field=DateTimeField())


def db_now(using: str | None = None) -> datetime:
    """The database's clock, for code that must compare or compute outside a statement.

    PostgreSQL: `statement_timestamp()`. SQLite (the embedded single-process mode, one
    machine and so one clock) falls back to this process's clock.
    """
    conn = connections[using or Provisioning.objects.db]
    if conn.vendor != "postgresql":
        return timezone.now()
    with conn.cursor() as cursor:
        cursor.execute("SELECT statement_timestamp()")
        row = cursor.fetchone()
    value: datetime = row[0]
    return value


def free_or_mine(owner: str) -> Q:
    """Rows whose lease this owner may take: none, expired (database clock), or its own."""
    return Q(lease_until__isnull=True) | Q(lease_until__lt=Now()) | Q(lease_owner=owner)


def lease_free() -> Q:
    """Rows nobody holds right now (database clock)."""
    return Q(lease_until__isnull=True) | Q(lease_until__lt=Now())


def take_leases(clinic_ids: list[Any], owner: str) -> int:
    """Take the lease of each of these clinics that is free or already this owner's (one
    statement, compared and written on the database's clock); how many were taken."""
    free = Provisioning.objects.filter(clinic_id__in=clinic_ids).filter(free_or_mine(owner))
    return free.update(lease_owner=owner, lease_until=lease_expiry())


def release_leases(clinic_ids: list[Any], owner: str) -> None:
    """Free the leases of these clinics that this owner still holds."""
    Provisioning.objects.filter(clinic_id__in=clinic_ids, lease_owner=owner).update(
        lease_owner="", lease_until=None
    )


def acquire_lease(clinic_id: Any, owner: str) -> bool:
    return take_leases([clinic_id], owner) == 1


def lease_remaining(clinic_id: Any) -> float:
    """Seconds left on the clinic's lease, by the database's clock."""
    left = (
        Provisioning.objects.filter(clinic_id=clinic_id, lease_until__isnull=False)
        .annotate(left=ExpressionWrapper(F("lease_until") - Now(), output_field=DurationField()))
        .values_list("left", flat=True)
        .first()
    )
    if left is None:
        return 0.0
    return max(0.0, left.total_seconds())


def release_lease(clinic_id: Any, owner: str) -> None:
    release_leases([clinic_id], owner)


def renew_window_seconds() -> float:
    """How old a lease renewal may be when a LiveKit call starts.

    The settings guarantee lease > 1.5 x (token wait + call timeout); a call that starts
    within this window after a renewal still ends, at its slowest, with that margin left.
    """
    slack = settings.PROVISIONING_LEASE_SECONDS - 1.5 * (
        settings.LIVEKIT_TIMEOUT_SECONDS + settings.LIVEKIT_RATE_LIMIT_MAX_WAIT_SECONDS
    )
    return max(0.0, slack)


def renew_after_seconds() -> float:
    """How old a lease renewal may be before a LiveKit call renews it again.

    Skipping a renewal younger than the window keeps the lease guarantee and saves a
    database commit per call (each one a WAL flush); one run renews at most once a second.
    """
    return min(1.0, renew_window_seconds())
