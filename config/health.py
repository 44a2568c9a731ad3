"""Health endpoints: /healthz (the process is up) and /readyz (its dependencies answer).

/readyz checks the database, the broker and LiveKit, each bounded by a short timeout, and
answers 200 when all are ok and 503 otherwise, with one entry per check. A failing check is
reported, never raised: a probe that answers 500 tells the orchestrator nothing. Error texts
are scrubbed of URL credentials and configured secrets before they leave the process.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
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
    """A ListSIPInboundTrunk through the configured gateway: reachability and credentials.

    The probe gets a short timeout and skips the shared rate limiter: readiness must answer
    quickly and must not spend (or wait for) the provisioning budget.
    """
    from telephony.livekit_gateway import get_gateway

    gateway: Any = get_gateway()
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


def _secrets() -> list[str]:
    names = ("SECRET_KEY", "LIVEKIT_API_SECRET")
    values = [str(getattr(settings, n, "") or "") for n in names]
    values += [str(k) for k in getattr(settings, "FIELD_ENCRYPTION_KEYS", [])]
    values.append(str(settings.DATABASES["default"].get("PASSWORD") or ""))
    return [v for v in values if len(v) >= 4]


def scrub(text: str) -> str:
    """Drop `user:password@` from URLs and any configured secret from an error text."""
    text = _URL_CREDENTIALS.sub(r"\g<scheme>***@", text)
    for secret in _secrets():
        text = text.replace(secret, "***")
    return text[:300]


def _describe(exc: BaseException) -> str:
    # The gateway's errors carry a sentence written for people; others get their class.
    sentence = getattr(exc, "sentence", None)
    if sentence:
        return scrub(str(sentence))
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return scrub(f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__)


def _run(check: Callable[[], None]) -> dict[str, Any]:
    started = time.monotonic()
    try:
        check()
    except Exception as exc:
        result: dict[str, Any] = {"status": "error", "error": _describe(exc)}
    else:
        result = {"status": "ok"}
    result["duration_ms"] = round((time.monotonic() - started) * 1000)
    return result


# Not inside ATOMIC_REQUESTS: opening that transaction needs the database, and an
# unreachable database must be reported as a failed check, not raised as a 500.
@transaction.non_atomic_requests
@require_GET
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    checks = {name: _run(check) for name, check in CHECKS.items()}
    ok = all(c["status"] == "ok" for c in checks.values())
    return JsonResponse(
        {"status": "ok" if ok else "unavailable", "checks": checks}, status=200 if ok else 503
    )


def run_checks() -> dict[str, dict[str, object]]:
    """Every readiness check for the operations dashboard: ok, a scrubbed error, duration."""
    out: dict[str, dict[str, object]] = {}
    for name, check in CHECKS.items():
        result = _run(check)
        out[name] = {
            "ok": result["status"] == "ok",
            "error": result.get("error", ""),
            "ms": result["duration_ms"],
        }
    return out
