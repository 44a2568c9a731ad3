"""Health endpoints: /healthz (the process is up) and /readyz (its dependencies answer).

/readyz checks the database, the broker and LiveKit, each bounded by a short timeout, with
one entry per check. LiveKit is checked per project: `livekit` is the default project (the
LIVEKIT_* settings), `livekit:<name>` each registered project that is not retired, probed
at the same time. It answers 200 when all are ok; 503 when the database or the broker
fails, or when no LiveKit project answers; 200 with status "degraded" when some LiveKit
projects answer and others do not, naming those in `livekit_down`: a web process cannot
fix one project, and taking every process out of rotation would stop the clinics of the
projects that work (docs/decisions/0095). A failing check is reported, never raised: a
probe that answers 500 tells the orchestrator nothing. Error texts are scrubbed of URL
credentials and configured secrets before they leave the process.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

CHECK_TIMEOUT_SECONDS = 2.0
# An ID no trunk has: the list call proves reachability and credentials, returns nothing.
PROBE_TRUNK_ID = "ST_switchboard_readiness_probe"
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]*@", re.IGNORECASE)


@transaction.non_atomic_requests
@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """The process serves requests; touches no dependency."""
    return JsonResponse({"status": "ok"})


def check_database() -> None:
    with connection.cursor() as cur:
        cur.execute("SELECT 1")
        cur.fetchone()


def check_broker() -> None:
    from kombu import Connection

    options = dict(getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}) or {})
    options["socket_connect_timeout"] = CHECK_TIMEOUT_SECONDS
    options["socket_timeout"] = CHECK_TIMEOUT_SECONDS
    with Connection(
        settings.CELERY_BROKER_URL,
        connect_timeout=CHECK_TIMEOUT_SECONDS,
        transport_options=options,
    ) as conn:
        conn.ensure_connection(
            max_retries=1, interval_start=0, interval_step=0, timeout=CHECK_TIMEOUT_SECONDS
        )


def check_livekit() -> None:
    """The default project (the LIVEKIT_* settings): see `probe`."""
    from telephony.livekit_gateway import get_gateway

    probe(get_gateway())


def probe(gateway: Any) -> None:
    """A ListSIPInboundTrunk through a project's gateway: reachability and credentials.

    The probe gets a short timeout and skips the shared rate limiter: readiness must answer
    quickly and must not spend (or wait for) the provisioning budget.
    """
    if hasattr(gateway, "timeout"):
        gateway.timeout = min(float(gateway.timeout), CHECK_TIMEOUT_SECONDS)
    if hasattr(gateway, "limiter"):
        gateway.limiter = None
    gateway.list_inbound_trunks(trunk_ids=[PROBE_TRUNK_ID])


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "broker": check_broker,
    "livekit": check_livekit,
}


def _probe_project(project: Any) -> None:
    from telephony.upstream import gateway_for

    probe(gateway_for(project))


def project_checks() -> tuple[dict[str, Callable[[], None]], list[str]]:
    """A check per registered LiveKit project that is not retired (`livekit:<name>`), and
    their secrets for scrubbing. None when the database cannot list them: its own check
    says why."""
    from telephony.models import LiveKitProject

    try:
        projects = list(
            LiveKitProject.objects.filter(from_environment=False).exclude(
                status=LiveKitProject.Status.RETIRED
            )
        )
    except Exception:
        return {}, []
    checks: dict[str, Callable[[], None]] = {}
    secrets: list[str] = []
    for project in projects:
        checks[f"livekit:{project.name}"] = partial(_probe_project, project)
        secrets += [project.api_secret, project.webhook_secret]
    return checks, secrets


def _secrets(extra: Sequence[str] = ()) -> list[str]:
    names = ("SECRET_KEY", "LIVEKIT_API_SECRET")
    values = [str(getattr(settings, n, "") or "") for n in names] + list(extra)
    values += [str(k) for k in getattr(settings, "FIELD_ENCRYPTION_KEYS", [])]
    values.append(str(settings.DATABASES["default"].get("PASSWORD") or ""))
    return [v for v in values if len(v) >= 4]


def scrub(text: str, extra: Sequence[str] = ()) -> str:
    """Drop `user:password@` from URLs and any configured secret from an error text."""
    text = _URL_CREDENTIALS.sub(r"\g<scheme>***@", text)
    for secret in _secrets(extra):
        text = text.replace(secret, "***")
    return text[:300]


def _describe(exc: BaseException, extra: Sequence[str] = ()) -> str:
    # The gateway's errors carry a sentence written for people; others get their class.
    sentence = getattr(exc, "sentence", None)
    if sentence:
        return scrub(str(sentence), extra)
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return scrub(f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__, extra)


def _run(check: Callable[[], None], extra: Sequence[str] = ()) -> dict[str, Any]:
    started = time.monotonic()
    try:
        check()
    except Exception as exc:
        result: dict[str, Any] = {"status": "error", "error": _describe(exc, extra)}
    else:
        result = {"status": "ok"}
    result["duration_ms"] = round((time.monotonic() - started) * 1000)
    return result


def _run_all() -> dict[str, dict[str, Any]]:
    """Every check; the LiveKit projects' probes at the same time (each has its timeout)."""
    checks = {name: _run(check) for name, check in CHECKS.items() if name != "livekit"}
    probes, secrets = project_checks()
    probes = {"livekit": CHECKS["livekit"], **probes}
    if len(probes) == 1:
        return {**checks, "livekit": _run(probes["livekit"])}
    with ThreadPoolExecutor(max_workers=min(8, len(probes))) as pool:
        futures = {name: pool.submit(_run, check, secrets) for name, check in probes.items()}
        return {**checks, **{name: f.result() for name, f in futures.items()}}


def verdict(checks: dict[str, dict[str, Any]]) -> tuple[str, list[str]]:
    """ok, degraded (some LiveKit projects down, named) or unavailable."""
    down = [name for name, c in checks.items() if c["status"] != "ok"]
    livekit = [name for name in checks if name.split(":")[0] == "livekit"]
    if not down:
        return "ok", []
    if any(name not in livekit for name in down) or len(down) == len(livekit):
        return "unavailable", down
    return "degraded", down


# Not inside ATOMIC_REQUESTS: opening that transaction needs the database, and an
# unreachable database must be reported as a failed check, not raised as a 500.
@transaction.non_atomic_requests
@require_GET
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    checks = _run_all()
    status, down = verdict(checks)
    body: dict[str, Any] = {"status": status, "checks": checks}
    if status == "degraded":
        body["livekit_down"] = down
    return JsonResponse(body, status=503 if status == "unavailable" else 200)


def run_checks() -> dict[str, dict[str, object]]:
    """Every readiness check for the operations dashboard: ok, a scrubbed error, duration."""
    return {
        name: {
            "ok": result["status"] == "ok",
            "error": result.get("error", ""),
            "ms": result["duration_ms"],
        }
        for name, result in _run_all().items()
    }
