"""Read-side helpers for the staff console (Django admin): nothing here writes.

- `compare_clinic(clinic)`: the LiveKit objects the database wants next to the ones LiveKit
  holds (list calls by stored ID, short timeout), with the SIP password masked on both sides.
- `ops_snapshot()`: the operations dashboard's figures (per LiveKit project:
  telephony/console_projects.py).

Every upstream read is bounded and its failure becomes a sentence on the page: the console
must stay usable exactly when LiveKit, Redis or the broker are not.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, fields
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, F, Max
from django.utils import timezone

from telephony.livekit_gateway import AgentDispatch, LiveKitError, get_gateway
from telephony.models import LineRule, Provisioning, ProvisioningEvent, UpstreamStatus
from telephony.provisioning.desired import load_desired

logger = logging.getLogger(__name__)

# A staff page waits at most this long for LiveKit (the workers keep their own timeout).
CONSOLE_LIVEKIT_TIMEOUT_SECONDS = 3.0
SECRET_FIELDS = frozenset({"auth_password"})
MASK = "•••••• (set)"


def console_gateway() -> Any:
    gw = get_gateway()
    if hasattr(gw, "timeout"):
        gw.timeout = min(float(gw.timeout), CONSOLE_LIVEKIT_TIMEOUT_SECONDS)
    return gw


# --- desired next to observed -------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    name: str
    desired: str
    observed: str
    same: bool | None  # None: one side is absent


@dataclass
class Comparison:
    kind: str  # trunk | rule
    object_id: str
    wanted: bool
    desired_present: bool
    observed_present: bool | None = None  # None: not looked up (no ID or LiveKit down)
    rows: list[Row] = field(default_factory=list)
    note: str = ""

    @property
    def in_sync(self) -> bool:
        return all(r.same for r in self.rows) and self.observed_present is not None


def show(name: str, value: Any) -> str:
    """A field value for the page; secrets are only ever shown as set / not set."""
    if name in SECRET_FIELDS:
        return MASK if value else "(none)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, AgentDispatch):
        return f"{value.agent_name} {value.metadata}"
    if isinstance(value, tuple):
        return ", ".join(show(name, v) if not isinstance(v, tuple) else "=".join(v) for v in value)
    return str(value) if value not in (None, "") else "—"


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, tuple) and isinstance(b, tuple):
        return sorted(map(str, a)) == sorted(map(str, b))
    return bool(a == b)


def _rows(desired: Any, observed: Any) -> list[Row]:
    base = desired if desired is not None else observed
    out = []
    for f in fields(base):
        if f.name == "trunk_id" or f.name == "rule_id":
            continue
        d = getattr(desired, f.name) if desired is not None else None
        o = getattr(observed, f.name) if observed is not None else None
        both = desired is not None and observed is not None
        out.append(
            Row(
                f.name,
                show(f.name, d) if desired is not None else "(not wanted)",
                show(f.name, o) if observed is not None else "(absent)",
                _same(d, o) if both else None,
            )
        )
    return out


def compare_clinic(clinic: Any, gateway: Any = None) -> dict[str, Any]:
    """Desired vs observed for the clinic's trunk and rule. Never raises for LiveKit."""
    prov = Provisioning.objects.get(clinic=clinic)
    desired = load_desired(clinic.pk)
    trunk_spec = desired.trunk() if desired.trunk_wanted else None
    rule_spec = (
        desired.rule(prov.trunk_id or "(trunk not created yet)") if desired.rule_wanted else None
    )
    trunk = Comparison("trunk", prov.trunk_id, desired.trunk_wanted, trunk_spec is not None)
    rule = Comparison("rule", prov.dispatch_rule_id, desired.rule_wanted, rule_spec is not None)
    error = ""
    observed_trunk = observed_rule = None
    if prov.trunk_id or prov.dispatch_rule_id:
        try:
            gw = gateway or console_gateway()
            if prov.trunk_id:
                found = gw.list_inbound_trunks(trunk_ids=[prov.trunk_id])
                observed_trunk = found[0] if found else None
                trunk.observed_present = observed_trunk is not None
            if prov.dispatch_rule_id:
                rules = gw.list_dispatch_rules(rule_ids=[prov.dispatch_rule_id])
                observed_rule = rules[0] if rules else None
                rule.observed_present = observed_rule is not None
        except LiveKitError as exc:
            error = f"LiveKit could not be read: {exc.sentence}"
        except Exception as exc:  # the page must render whatever the gateway does
            logger.exception("console: observing clinic %s failed", clinic.pk)
            error = f"LiveKit could not be read ({type(exc).__name__})."
    for cmp, spec, obs in ((trunk, trunk_spec, observed_trunk), (rule, rule_spec, observed_rule)):
        if not cmp.object_id:
            cmp.note = "No stored ID: nothing to look up in LiveKit."
        elif cmp.observed_present is False:
            cmp.note = f"{cmp.object_id} is not in LiveKit."
        if spec is not None or obs is not None:
            cmp.rows = _rows(spec, obs.as_spec() if obs is not None else None)
    lines, line_error = _compare_lines(clinic, prov, desired, gateway)
    return {
        "trunk": trunk,
        "rule": rule,
        "lines": lines,
        "error": error or line_error,
        "generation": desired.generation,
    }


def _compare_lines(
    clinic: Any, prov: Provisioning, desired: Any, gateway: Any
) -> tuple[list[tuple[str, Comparison]], str]:
    """The numbered lines' rules (decision 0085): desired next to observed, by line."""
    wanted = desired.lines() if desired.rule_wanted else {}
    rows = {r.line: r for r in LineRule.objects.for_clinic(clinic)}
    names = {key: receptionist.name for key, (receptionist, _) in wanted.items()}
    out: list[tuple[str, Comparison]] = []
    error = ""
    for key in sorted(set(wanted) | set(rows)):
        row = rows.get(key)
        spec = (
            desired.rule(prov.trunk_id or "(trunk not created yet)", key) if key in wanted else None
        )
        cmp = Comparison("rule", row.rule_id if row else "", key in wanted, spec is not None)
        observed = None
        if cmp.object_id and not error:
            try:
                found = (gateway or console_gateway()).list_dispatch_rules(rule_ids=[cmp.object_id])
                observed = found[0] if found else None
                cmp.observed_present = observed is not None
            except LiveKitError as exc:
                error = f"LiveKit could not be read: {exc.sentence}"
        if not cmp.object_id:
            cmp.note = "No stored ID: nothing to look up in LiveKit."
        elif cmp.observed_present is False:
            cmp.note = f"{cmp.object_id} is not in LiveKit."
        if spec is not None or observed is not None:
            cmp.rows = _rows(spec, observed.as_spec() if observed is not None else None)
        title = names.get(key, f"receptionist {key}, deleted")
        out.append((f"Dispatch rule of the line “{title}”", cmp))
    return out, error


# --- operations dashboard -----------------------------------------------------------------


def queue_depth() -> tuple[int | None, str]:
    """LLEN of the Celery queue on a Redis broker; (None, why) otherwise."""
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://")):
        return None, "n/a (the broker is not Redis)"
    try:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        return int(client.llen(settings.CELERY_TASK_DEFAULT_QUEUE)), ""
    except Exception as exc:
        return None, f"unavailable ({type(exc).__name__})"


def readiness() -> dict[str, dict[str, object]]:
    """/readyz's checks, plus Redis itself when it is configured (limiter, cache)."""
    import time

    from config.health import run_checks

    results = run_checks()
    if settings.REDIS_URL:
        started = time.monotonic()
        try:
            import redis

            redis.Redis.from_url(
                settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1
            ).ping()
            results["redis"] = {"ok": True}
        except Exception as exc:
            results["redis"] = {"ok": False, "error": type(exc).__name__}
        results["redis"]["ms"] = round((time.monotonic() - started) * 1000)
    return results


def ops_snapshot(*, now: Any = None) -> dict[str, Any]:
    from telephony.console_projects import limiter_usage, project_rows

    now = now or timezone.now()
    hour_ago = now - timedelta(hours=1)
    states = dict(
        Provisioning.objects.values_list("state").annotate(n=Count("id")).order_by("state")
    )
    by_state = [(value, label, states.get(value, 0)) for value, label in Provisioning.State.choices]
    failures = list(
        ProvisioningEvent.objects.filter(outcome=ProvisioningEvent.Outcome.ERROR, at__gte=hour_ago)
        .values("detail")
        .annotate(n=Count("id"), clinics=Count("clinic", distinct=True), last=Max("at"))
        .order_by("-n", "detail")[:25]
    )
    failed_now = list(
        Provisioning.objects.filter(state=Provisioning.State.FAILED)
        .values("last_error")
        .annotate(n=Count("id"))
        .order_by("-n", "last_error")[:25]
    )
    oldest = (
        Provisioning.objects.filter(observed_generation__lt=F("generation"))
        .select_related("clinic")
        .order_by(F("requested_at").asc(nulls_first=True))
        .first()
    )
    upstream = UpstreamStatus.objects.filter(pk=1).first()
    depth, depth_why = queue_depth()
    ready = readiness()
    return {
        "projects": project_rows(now, ready),
        **_default_project(upstream),
        "now": now,
        "by_state": by_state,
        "total": sum(states.values()),
        "failures": failures,
        "failed_now": failed_now,
        "oldest": oldest,
        "oldest_age": (now - oldest.requested_at) if oldest and oldest.requested_at else None,
        "queue_depth": depth,
        "queue_depth_why": depth_why,
        "queue_name": settings.CELERY_TASK_DEFAULT_QUEUE,
        "limiter": limiter_usage(),
        "readiness": ready,
    }


def _default_project(upstream: UpstreamStatus | None) -> dict[str, Any]:
    """The default project's drift scan and credentials circuit (UpstreamStatus)."""
    from telephony.provisioning.circuit import auth_blocked

    return {
        "drift_at": upstream.last_drift_scan_at if upstream else None,
        "drift": (upstream.last_drift_scan if upstream else None) or {},
        "circuit_blocked": auth_blocked(),
        "circuit_at": upstream.auth_failed_at if upstream else None,
        "circuit_detail": upstream.auth_failed_detail if upstream else "",
    }
