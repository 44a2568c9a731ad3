"""Stop calling LiveKit for every clinic once it rejects our credentials.

A 401/403 from LiveKit is not the clinic's fault and retrying cannot fix it: the first one
opens this circuit for the running configuration (URL, key, secret, by fingerprint), every
reconcile then fails fast without an upstream call, and staff see it in admin. A process
started with a different configuration, or an operator clearing the circuit, closes it;
the sweeper then resumes the clinics that failed for this reason.

Each LiveKit project has its own circuit (docs/decisions/0070): a key revoked in one
pauses only that project's clinics. The default project's state is in UpstreamStatus, as
before there were several; a registered project's is on its row.
"""

from __future__ import annotations

import hashlib
import hmac
import logging

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from telephony.models import DEFAULT_PROJECT, LiveKitProject, Provisioning, UpstreamStatus

logger = logging.getLogger(__name__)

AUTH_ERROR_CODES = ("unauthenticated", "permission_denied", "circuit_open")


def _fingerprint(material: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), material.encode(), hashlib.sha256).hexdigest()[
        :32
    ]


def config_fingerprint() -> str:
    """The default project's: the LIVEKIT_* settings of the running process."""
    return _fingerprint(
        f"{settings.LIVEKIT_URL}\n{settings.LIVEKIT_API_KEY}\n{settings.LIVEKIT_API_SECRET}"
    )


def _project(name: str) -> LiveKitProject | None:
    """A registered project's row; None for the default one (UpstreamStatus holds its state)."""
    if name == DEFAULT_PROJECT:
        return None
    return LiveKitProject.objects.filter(name=name).first()


def _project_fingerprint(project: LiveKitProject) -> str:
    config = project.config()
    return _fingerprint(f"{config.url}\n{config.api_key}\n{config.api_secret}")


def auth_blocked(project: str = DEFAULT_PROJECT) -> str | None:
    """The sentence to show when the project's credentials were rejected, else None."""
    if project != DEFAULT_PROJECT:
        found = _project(project)
        if found is not None and found.auth_failed_fingerprint == _project_fingerprint(found):
            return (
                f"LiveKit project {project} rejected its API credentials; provisioning is "
                "paused for its clinics until an operator gives it a working key."
            )
        return None
    row = UpstreamStatus.objects.filter(pk=1).values("auth_failed_fingerprint").first()
    if row and row["auth_failed_fingerprint"] == config_fingerprint():
        return (
            "LiveKit rejected Switchboard's API credentials; provisioning is paused for all "
            "clinics until an operator fixes LIVEKIT_API_KEY / LIVEKIT_API_SECRET."
        )
    return None


def open_circuit(detail: str, project: str = DEFAULT_PROJECT) -> None:
    if project != DEFAULT_PROJECT:
        row = _project(project)
        if row is None:
            return
        fingerprint = _project_fingerprint(row)
        updated = (
            LiveKitProject.objects.filter(pk=row.pk)
            .exclude(auth_failed_fingerprint=fingerprint)
            .update(
                auth_failed_fingerprint=fingerprint,
                auth_failed_at=timezone.now(),
                auth_failed_detail=detail,
            )
        )
        if updated:
            logger.error(
                "LiveKit project %s rejected its credentials: paused (%s)", project, detail
            )
        return
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


def clear_circuit(project: str = DEFAULT_PROJECT) -> None:
    if project != DEFAULT_PROJECT:
        LiveKitProject.objects.filter(name=project).update(auth_failed_fingerprint="")
        return
    UpstreamStatus.objects.filter(pk=1).update(auth_failed_fingerprint="")


def resume_after_config_change(project: str = DEFAULT_PROJECT) -> int:
    """Put the project's clinics that failed on credentials back in line once its circuit
    is closed."""
    if auth_blocked(project):
        return 0
    failed = Provisioning.objects.filter(
        state=Provisioning.State.FAILED, last_error_code__in=AUTH_ERROR_CODES
    )
    if project == DEFAULT_PROJECT:
        failed = failed.filter(
            Q(clinic__livekit_project__isnull=True) | Q(clinic__livekit_project__name=project)
        )
    else:
        failed = failed.filter(clinic__livekit_project__name=project)
    return failed.update(
        state=Provisioning.State.PENDING,
        attempts=0,
        rate_limited_runs=0,
        next_attempt_at=timezone.now(),
    )


def resume_everywhere() -> int:
    """resume_after_config_change for the default project and every registered one whose
    clinics failed on credentials (the sweeper calls this)."""
    names = set(
        Provisioning.objects.filter(
            state=Provisioning.State.FAILED,
            last_error_code__in=AUTH_ERROR_CODES,
            clinic__livekit_project__isnull=False,
        )
        .exclude(clinic__livekit_project__name=DEFAULT_PROJECT)
        .values_list("clinic__livekit_project__name", flat=True)
    )
    return resume_after_config_change() + sum(
        resume_after_config_change(name) for name in sorted(names)
    )
