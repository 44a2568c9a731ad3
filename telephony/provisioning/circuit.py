"""Stop calling LiveKit for every clinic once it rejects our credentials.

A 401/403 from LiveKit is not the clinic's fault and retrying cannot fix it: the first one
opens this circuit for the running configuration (URL, key, secret, by fingerprint), every
reconcile then fails fast without an upstream call, and staff see it in admin. A process
started with a different configuration, or an operator clearing the circuit, closes it;
the sweeper then resumes the clinics that failed for this reason.
"""

from __future__ import annotations

import hashlib
import hmac
import logging

from django.conf import settings
from django.utils import timezone

from telephony.models import Provisioning, UpstreamStatus

logger = logging.getLogger(__name__)

AUTH_ERROR_CODES = ("unauthenticated", "permission_denied", "circuit_open")


def config_fingerprint() -> str:
    material = f"{settings.LIVEKIT_URL}\n{settings.LIVEKIT_API_KEY}\n{settings.LIVEKIT_API_SECRET}"
    return hmac.new(settings.SECRET_KEY.encode(), material.encode(), hashlib.sha256).hexdigest()[
        :32
    ]


def auth_blocked() -> str | None:
    """The sentence to show when the running configuration was rejected, else None."""
    row = UpstreamStatus.objects.filter(pk=1).values("auth_failed_fingerprint").first()
    if row and row["auth_failed_fingerprint"] == config_fingerprint():
        return (
            "LiveKit rejected Switchboard's API credentials; provisioning is paused for all "
            "clinics until an operator fixes LIVEKIT_API_KEY / LIVEKIT_API_SECRET."
        )
    return None


def open_circuit(detail: str) -> None:
    fingerprint = config_fingerprint()
    updated = (
        UpstreamStatus.objects.filter(pk=1)
        .exclude(auth_failed_fingerprint=fingerprint)
        .update(
            auth_failed_fingerprint=fingerprint,
            auth_failed_at=timezone.now(),
            auth_failed_detail=detail,
        )
    )
    if not updated and not UpstreamStatus.objects.filter(pk=1).exists():
        UpstreamStatus.objects.get_or_create(
            pk=1,
            defaults={
                "auth_failed_fingerprint": fingerprint,
                "auth_failed_at": timezone.now(),
                "auth_failed_detail": detail,
            },
        )
        updated = 1
    if updated:
        logger.error(
            "LiveKit rejected the platform's credentials: provisioning paused (%s)", detail
        )


def clear_circuit() -> None:
    UpstreamStatus.objects.filter(pk=1).update(auth_failed_fingerprint="")


def resume_after_config_change() -> int:
    """Put clinics that failed on credentials back in line once the circuit is closed."""
    if auth_blocked():
        return 0
    return Provisioning.objects.filter(
        state=Provisioning.State.FAILED, last_error_code__in=AUTH_ERROR_CODES
    ).update(state=Provisioning.State.PENDING, attempts=0, next_attempt_at=timezone.now())
