"""The clinic list's filters and its paginator (a list that stays cheap at 10,000 clinics)."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from telephony.models import Provisioning, ProvisioningEvent, UpstreamStatus
from tenants.models import Clinic

# --- list filters -------------------------------------------------------------------------


class ProvisioningStateFilter(admin.SimpleListFilter):
    title = "provisioning state"
    parameter_name = "provisioning"

    def lookups(self, request: Any, model_admin: Any) -> list[tuple[str, str]]:
        return list(Provisioning.State.choices)

    def queryset(self, request: Any, queryset: QuerySet[Clinic]) -> QuerySet[Clinic]:
        value = self.value()
        return queryset.filter(provisioning__state=value) if value else queryset


class FailedSinceFilter(admin.SimpleListFilter):
    """Clinics whose provisioning recorded an error in the window.

    An error event, not the current state: it finds clinics that are failed now, clinics
    still retrying, and clinics that failed and have since recovered. Combine with the
    provisioning-state filter for "failed now, and first failed in the last hour".
    """

    title = "provisioning error since"
    parameter_name = "failed_since"
    WINDOWS: dict[str, timedelta] = {
        "hour": timedelta(hours=1),
        "day": timedelta(days=1),
        "week": timedelta(days=7),
    }

    def lookups(self, request: Any, model_admin: Any) -> list[tuple[str, str]]:
        return [("hour", "Last hour"), ("day", "Last day"), ("week", "Last week")]

    def queryset(self, request: Any, queryset: QuerySet[Clinic]) -> QuerySet[Clinic]:
        window = self.WINDOWS.get(self.value() or "")
        if window is None:
            return queryset
        errors = ProvisioningEvent.objects.filter(
            clinic=OuterRef("pk"),
            outcome=ProvisioningEvent.Outcome.ERROR,
            at__gte=timezone.now() - window,
        )
        return queryset.filter(Exists(errors))


def last_scan_window() -> tuple[datetime, datetime] | None:
    """From the start of the earliest to the end of the latest of the last drift scans
    (one per LiveKit project: the default one's in UpstreamStatus, the others on their
    rows), if one has run."""
    from telephony.models import LiveKitProject

    rows = list(
        UpstreamStatus.objects.filter(pk=1, last_drift_scan_at__isnull=False).values(
            "last_drift_scan_at", "last_drift_scan"
        )
    ) + list(
        LiveKitProject.objects.filter(last_drift_scan_at__isnull=False).values(
            "last_drift_scan_at", "last_drift_scan"
        )
    )
    if not rows:
        return None
    windows = []
    for row in rows:
        ended: datetime = row["last_drift_scan_at"]
        report = row["last_drift_scan"] or {}
        started = parse_datetime(str(report.get("started_at", ""))) if report else None
        if started is None:  # a report from before scans recorded their start, or an error
            started = ended - timedelta(minutes=10)
        windows.append((started, ended))
    return min(w[0] for w in windows), max(w[1] for w in windows)


class DriftFilter(admin.SimpleListFilter):
    """Clinics the drift scan found out of step with LiveKit (a `drift_detected` event).

    - last scan: found by the most recent scan (events between its start and its end);
    - not repaired yet: drift recorded after the clinic last converged;
    - last day: any drift found in the last 24 hours.
    """

    title = "drift"
    parameter_name = "drift"

    def lookups(self, request: Any, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("last_scan", "Found by the last scan"),
            ("unrepaired", "Not repaired yet"),
            ("day", "Last day"),
        ]

    def queryset(self, request: Any, queryset: QuerySet[Clinic]) -> QuerySet[Clinic]:
        value = self.value()
        drift = ProvisioningEvent.objects.filter(clinic=OuterRef("pk"), action="drift_detected")
        if value == "last_scan":
            window = last_scan_window()
            if window is None:
                return queryset.none()
            return queryset.filter(Exists(drift.filter(at__gte=window[0], at__lte=window[1])))
        if value == "unrepaired":
            after_convergence = drift.filter(at__gt=OuterRef("provisioning__converged_at"))
            return queryset.filter(
                Q(Exists(after_convergence))
                | Q(Q(provisioning__converged_at__isnull=True), Exists(drift))
            )
        if value == "day":
            return queryset.filter(Exists(drift.filter(at__gte=timezone.now() - timedelta(days=1))))
        return queryset


# --- paginator ----------------------------------------------------------------------------


class EstimatedCountPaginator(Paginator):
    """Exact counts for filtered lists; PostgreSQL's row estimate for the whole table.

    The admin counts the rows of every page it shows. For an unfiltered list that is a
    COUNT(*) over the whole table on every page; past ESTIMATE_ABOVE rows this paginator
    uses pg_class.reltuples (kept fresh by autovacuum) instead. Filtered and searched lists
    are counted exactly: they are the ones an operator acts on.
    """

    ESTIMATE_ABOVE = 1_000

    @cached_property
    def count(self) -> int:
        qs = self.object_list
        if isinstance(qs, QuerySet) and not qs.query.where and connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                    [qs.model._meta.db_table],
                )
                row = cur.fetchone()
            estimate = int(row[0]) if row else -1
            if estimate > self.ESTIMATE_ABOVE:
                return estimate
        return super().count
