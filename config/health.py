"""Health endpoints: /healthz (the process is up) and /readyz (its dependencies answer).

/readyz checks the database, the broker and LiveKit, each with a short timeout, and answers
200 when all are ok, 503 otherwise, with a JSON line per check. It never shows a URL's
credentials or any secret.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _database() -> None:
    with connection.cursor() as cur:
        cur.execute("SELECT 1")


def _broker() -> None:
    from config.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


def _livekit() -> None:
    from telephony.livekit_gateway import LiveKitGateway

    gw = LiveKitGateway(
        settings.LIVEKIT_URL,
        settings.LIVEKIT_API_KEY,
        settings.LIVEKIT_API_SECRET,
        timeout=min(3.0, settings.LIVEKIT_TIMEOUT_SECONDS),
    )
    gw.list_inbound_trunks(trunk_ids=["ST_readiness_probe"])


CHECKS: dict[str, Callable[[], None]] = {
    "database": _database,
    "broker": _broker,
    "livekit": _livekit,
}


def run_checks() -> dict[str, dict[str, object]]:
    """Every readiness check, timed; a failure is a short sentence, never a secret."""
    results: dict[str, dict[str, object]] = {}
    for name, check in CHECKS.items():
        started = time.monotonic()
        try:
            check()
        except Exception as exc:
            sentence = getattr(exc, "sentence", None) or type(exc).__name__
            results[name] = {"ok": False, "error": str(sentence)[:200]}
        else:
            results[name] = {"ok": True}
        results[name]["ms"] = round((time.monotonic() - started) * 1000)
    return results


@require_GET
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    results = run_checks()
    ok = all(r["ok"] for r in results.values())
    return JsonResponse(
        {"status": "ok" if ok else "unavailable", "checks": results}, status=200 if ok else 503
    )
