"""The operations dashboard, one row per LiveKit project (docs/decisions/0095).

For each project: its clinics, how many wait for provisioning (the queue of work that
project still owes), how many failed, the errors of the last hour, its rate limiter's use,
its credentials circuit, its last drift scan and its readiness probe. Names and counts
only: no URL, key or secret (support staff see this page, and see project names only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, F

from telephony.models import LiveKitProject, Provisioning, ProvisioningEvent, UpstreamStatus
from tenants.models import Clinic


@dataclass
class ProjectRow:
    name: str
    region: str
    status: str
    open: bool
    clinics: int = 0
    waiting: int = 0
    failed: int = 0
    errors_hour: int = 0
    limiter: dict[str, Any] = field(default_factory=dict)
    circuit: str = ""
    drift_at: datetime | None = None
    drift: dict[str, Any] = field(default_factory=dict)
    ready: dict[str, object] | None = None

    @property
    def trouble(self) -> bool:
        return bool(
            self.circuit
            or self.failed
            or (self.ready is not None and not self.ready.get("ok"))
            or self.drift.get("error")
        )


def limiter_usage(project: str = "default") -> dict[str, Any]:
    """The project's rate limiter (LiveKit's limit is per project)."""
    from telephony.ratelimit import RedisLimiter, get_limiter, project_rate

    per_minute = project_rate(project)
    try:
        limiter = get_limiter(project)
        if not isinstance(limiter, RedisLimiter):
            return {"available": False, "why": "n/a (in-process limiter: no Redis)"}
        usage = limiter.usage()
    except Exception as exc:
        return {"available": False, "why": f"unavailable ({type(exc).__name__})"}
    burst = usage["burst"] or 1
    return {
        "available": True,
        "per_minute": per_minute,
        "tokens": round(usage["tokens"], 1),
        "burst": usage["burst"],
        "used_pct": round(100 * (1 - usage["tokens"] / burst)),
        "blocked_for": round(usage["blocked_for"], 1),
    }


def _by_project(rows: Any, default_pk: int) -> dict[int, int]:
    """{project pk: n} from (project pk or None, n) pairs; None is the default project."""
    out: dict[int, int] = {}
    for pk, n in rows:
        key = default_pk if pk is None else pk
        out[key] = out.get(key, 0) + n
    return out


def _counts(qs: Any, path: str, default_pk: int) -> dict[int, int]:
    return _by_project(qs.values_list(path).annotate(n=Count("pk")).order_by(), default_pk)


def project_rows(
    now: datetime, readiness: dict[str, dict[str, object]] | None = None
) -> list[ProjectRow]:
    from telephony.projects import default_project
    from telephony.provisioning.circuit import auth_blocked

    default = default_project()
    projects = list(LiveKitProject.objects.order_by("name"))
    path = "clinic__livekit_project"
    clinics = _counts(
        Clinic.objects.exclude(state=Clinic.State.OFFBOARDED), "livekit_project", default.pk
    )
    waiting = _counts(
        Provisioning.objects.filter(observed_generation__lt=F("generation")), path, default.pk
    )
    failed = _counts(Provisioning.objects.filter(state=Provisioning.State.FAILED), path, default.pk)
    errors = _counts(
        ProvisioningEvent.objects.filter(
            outcome=ProvisioningEvent.Outcome.ERROR, at__gte=now - timedelta(hours=1)
        ),
        path,
        default.pk,
    )
    upstream = UpstreamStatus.objects.filter(pk=1).first()
    rows = []
    for p in projects:
        scan_at, scan = p.last_drift_scan_at, p.last_drift_scan
        if p.from_environment:
            scan_at = upstream.last_drift_scan_at if upstream else None
            scan = upstream.last_drift_scan if upstream else {}
        probe = "livekit" if p.from_environment else f"livekit:{p.name}"
        rows.append(
            ProjectRow(
                name=p.name,
                region=p.region,
                status=p.get_status_display(),
                open=p.open,
                clinics=clinics.get(p.pk, 0),
                waiting=waiting.get(p.pk, 0),
                failed=failed.get(p.pk, 0),
                errors_hour=errors.get(p.pk, 0),
                limiter=limiter_usage(p.name),
                circuit=auth_blocked(p.name) or "",
                drift_at=scan_at,
                drift=scan or {},
                ready=(readiness or {}).get(probe),
            )
        )
    return rows
