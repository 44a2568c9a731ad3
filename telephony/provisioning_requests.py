"""Asking for provisioning: bump the clinic's generation in the same transaction as the
change LiveKit must follow, and enqueue reconcile on commit (telephony/publishing.py).

Its own module so that the writers of a clinic's setup (telephony.services,
telephony.receptionists) can all use it without importing each other.
"""

from __future__ import annotations

from django.db.models import F
from django.utils import timezone

from telephony.models import Provisioning, ProvisioningEvent
from telephony.publishing import enqueue_reconcile
from tenants.models import Clinic, User


def request_provisioning(
    clinic: Clinic, *, reason: str, actor: User | None = None, verify: bool = False
) -> None:
    """Bump the generation (same transaction as the change) and enqueue reconcile."""
    if clinic.state == Clinic.State.DRAFT:
        return
    now = timezone.now()
    Provisioning.objects.filter(clinic=clinic).update(
        generation=F("generation") + 1,
        state=Provisioning.State.DEPROVISIONING
        if clinic.state == Clinic.State.OFFBOARDED
        else Provisioning.State.PENDING,
        attempts=0,
        rate_limited_runs=0,
        last_error="",
        last_error_code="",
        next_attempt_at=now,
        requested_at=now,
    )
    ProvisioningEvent.objects.create(
        clinic=clinic, action="requested", detail=reason[:500], actor=actor
    )
    enqueue_reconcile(clinic, verify=verify)
