"""Which LiveKit project signed a webhook, and whether its clinic is that project's.

LiveKit signs each webhook with one of the project's API keys (the token's `iss`). The key
is read from the token without trusting it, only to choose whose secret verifies it: the
default project's (the LIVEKIT_* settings) when it is that key, as before, with no query;
otherwise the registered projects whose webhook key (or API key) it is. A verified event
is then recorded only for a clinic of the project that signed it (decision 0070): a
project's key holder (a clinic group with its own project) cannot write into another
project's clinics' call logs.
"""

from __future__ import annotations

import base64
import binascii
import json

from django.conf import settings
from django.db.models import Q

from telephony.livekit_gateway import WebhookEvent, WebhookRejected, verify_webhook
from telephony.models import DEFAULT_PROJECT, LiveKitProject
from tenants.models import Clinic

_default_pk: list[int | None] = [None]


def signing_key(authorization: str) -> str:
    """The token's `iss` (the API key it claims), unverified; "" when unreadable."""
    parts = authorization.split(".")
    if len(parts) != 3:
        return ""
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return ""
    iss = payload.get("iss") if isinstance(payload, dict) else None
    return iss if isinstance(iss, str) else ""


def verify(body: str, authorization: str) -> tuple[WebhookEvent, LiveKitProject | None]:
    """The event and the registered project that signed it (None: the default project)."""
    key = signing_key(authorization)
    if key and key != settings.LIVEKIT_API_KEY:
        candidates = LiveKitProject.objects.filter(from_environment=False).filter(
            Q(webhook_key=key) | Q(webhook_key="", api_key=key)
        )
        for project in candidates.order_by("name"):
            config = project.config()
            try:
                event = verify_webhook(
                    body,
                    authorization,
                    api_key=config.webhook_key,
                    api_secret=config.webhook_secret,
                )
            except WebhookRejected as exc:
                if exc.status != 401:
                    raise
                continue
            return event, project
    event = verify_webhook(
        body,
        authorization,
        api_key=settings.LIVEKIT_API_KEY,
        api_secret=settings.LIVEKIT_API_SECRET,
    )
    return event, None


def serves(project: LiveKitProject | None, clinic: Clinic) -> bool:
    """Whether `clinic` belongs to `project` (None: the default project). No query in the
    steady state: the default project's id is kept per process and read again on a miss."""
    pid = clinic.livekit_project_id
    if project is not None:
        return pid == project.pk or _moving_out(project, clinic)
    if pid is None or pid == _default_pk[0]:
        return True
    _default_pk[0] = (
        LiveKitProject.objects.filter(name=DEFAULT_PROJECT).values_list("pk", flat=True).first()
    )
    return pid == _default_pk[0] or _moving_out(project, clinic)


def _moving_out(project: LiveKitProject | None, clinic: Clinic) -> bool:
    """A clinic moving out of the project still takes its calls there until the move is
    done (telephony/moves.py, decision 0096)."""
    from telephony.moves import serves_during_move

    return serves_during_move(project.pk if project is not None else None, clinic)
