"""POST /webhooks/livekit: LiveKit's signed webhooks, recorded in the call log.

No session, no CSRF: the only credential is LiveKit's signature over the body. Unsigned,
wrongly signed and expired deliveries get 401; rooms that are not a clinic's are
acknowledged (200) and ignored, so LiveKit does not retry them forever. A delivery signed
by one LiveKit project about a clinic of another is refused (403, decision 0070).

`LiveKitWebhookMiddleware` answers it right after the security middleware (decision 0143):
the session, CSRF, authentication, OTP, audit, message, two-factor, time-zone, CSP,
static-file and rate-limit middleware were a fifth of a webhook's CPU, and a delivery signed
by LiveKit, without a cookie, uses none of them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from telephony.calllog import ForeignClinic, record_event
from telephony.livekit_gateway import WebhookRejected
from telephony.webhook_projects import serves, verify

logger = logging.getLogger(__name__)

# LiveKit's events are a few kilobytes; anything far larger is not one of them.
MAX_BODY_BYTES = 64 * 1024
PATH = "/webhooks/livekit"  # config/urls.py routes the same path to the same view


# Not inside ATOMIC_REQUESTS: record_event commits in its own transaction (a savepoint
# inside the request's would cost two more round trips per event, and nothing else writes).
@transaction.non_atomic_requests
@csrf_exempt
@require_POST
def livekit_webhook(request: HttpRequest) -> JsonResponse:
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_BODY_BYTES:
        return JsonResponse({"error": "body too large"}, status=413)
    raw = request.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        return JsonResponse({"error": "body too large"}, status=413)
    try:
        # Verified with the key of the LiveKit project that signed it (decision 0070).
        event, project = verify(
            raw.decode("utf-8", errors="replace"), request.headers.get("Authorization", "")
        )
    except WebhookRejected as exc:
        logger.warning("livekit webhook rejected: %s", exc.reason)
        return JsonResponse({"error": exc.reason}, status=exc.status)
    try:
        call = record_event(event, accept=lambda clinic: serves(project, clinic))
    except ForeignClinic:
        name = project.name if project is not None else "default"
        logger.warning("livekit webhook of project %s for another project's clinic: refused", name)
        return JsonResponse(
            {"error": "the room is a clinic's of another LiveKit project"}, status=403
        )
    return JsonResponse({"ok": True, "recorded": call is not None})


class LiveKitWebhookMiddleware:
    """Placed right after SecurityMiddleware (config/settings.py MIDDLEWARE): a POST to the
    webhook path goes to the view at once; anything else (another method included, which
    the view refuses with 405 either way) continues down the stack."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info == PATH and request.method == "POST":
            return livekit_webhook(request)
        return self.get_response(request)
