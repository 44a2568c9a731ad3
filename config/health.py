"""Health endpoints: /healthz (process up) and /readyz (DB, broker, LiveKit reachable)."""

from django.http import HttpRequest, JsonResponse


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "unknown"}, status=503)
