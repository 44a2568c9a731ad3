"""Retention: entries older than AUDIT_LOG_RETENTION_DAYS are deleted (daily, beat)."""

from __future__ import annotations

from datetime import datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from audit.models import AuditEntry

BATCH = 5000


def purge_expired(now: datetime | None = None) -> int:
    """Delete expired entries in batches; returns how many went."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.AUDIT_LOG_RETENTION_DAYS)
    total = 0
    while True:
        ids = list(
            AuditEntry.objects.filter(timestamp__lt=cutoff).values_list("pk", flat=True)[:BATCH]
        )
        if not ids:
            return total
        # A queryset delete: AuditEntry.delete() refuses single entries on purpose.
        total += AuditEntry.objects.filter(pk__in=ids).delete()[0]
        if len(ids) < BATCH:
            return total


@shared_task(name="audit.purge", acks_late=True, ignore_result=True)
def purge() -> int:
    return purge_expired()
