"""The agent's config fetch at pickup, answered 304 before the rest of the stack when the
worker already holds the current config (decision 0101).

The agent worker fetches `GET /api/v1/agent/config?clinic=…` when it picks up a call, with
the ETag of the config it holds; the caller waits for the answer, and nearly always the
answer is "unchanged". That answer needs two facts: the token is an active agent token, and
the ETag of the receptionist the request is for. This middleware reads both in ONE statement
and answers the 304 itself, without the session, CSRF, user, two-factor, audit, message,
time-zone and rate-limit middleware, URL resolution or DRF, none of which a bearer-token
request without a body uses. Anything else (no or another ETag, an unknown or revoked token,
a clinic not live, `?room=`) goes on to the view, which answers as it always did.

Nothing is cached between requests: the ETag is read from the rows at every fetch, so a
config saved (its version bumped) or a clinic suspended changes the answer at once, and a
revoked token stops working at once (decision 0054).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.utils import timezone
from django.utils.http import parse_etags

from frontdesk.config import LocationRow, etag_part_from_rows
from telephony.agent_config import CONFIG_CACHE_CONTROL, config_etag, named_receptionist
from telephony.agent_project import serves, worker_project
from telephony.agent_tokens import LAST_USED_RESOLUTION, TOKEN_PREFIX, hash_token
from telephony.models import AgentToken
from tenants.models import Clinic

PATH = "/api/v1/agent/config"

# The token, and the receptionist the view would pick (the one named if it is the clinic's,
# else the clinic's first) of a live clinic, with what its ETag is made of. LEFT JOIN: a
# valid token for a clinic that is not live is still told apart from an invalid token (the
# view answers them 404 and 401). And the projects that serve the clinic (its own, an open
# move's source), compared with the worker's X-Switchboard-Project (decision 0155) without a
# round trip of their own.
STATEMENT = """
SELECT t.id, t.last_used_at, r.clinic_id, r.id, r.version,
       r.timezone, r.desk_version, r.weekly, r.closures, r.after_version,
       r.loc_id, r.loc_version, r.loc_own_hours, r.loc_timezone, r.loc_weekly, r.loc_closures,
       r.project, r.move_source
FROM telephony_agenttoken t
LEFT JOIN LATERAL (
    SELECT r.clinic_id, r.id, r.version, c.timezone,
           COALESCE((SELECT p.name FROM telephony_livekitproject p
                     WHERE p.id = c.livekit_project_id), 'default') AS project,
           (SELECT s.name FROM telephony_projectmove m
            JOIN telephony_livekitproject s ON s.id = m.source_id
            WHERE m.clinic_id = c.id
              AND m.state IN ('provisioning', 'verifying', 'awaiting_carrier', 'deleting')
            LIMIT 1) AS move_source,
           fd.version AS desk_version, fd.weekly, fd.closures, ah.version AS after_version,
           loc.id AS loc_id, loc.version AS loc_version, loc.own_hours AS loc_own_hours,
           loc.timezone AS loc_timezone, loc.weekly AS loc_weekly,
           loc.closures AS loc_closures
    FROM telephony_receptionist r
    JOIN tenants_clinic c ON c.id = r.clinic_id
    LEFT JOIN frontdesk_frontdesk fd ON fd.clinic_id = r.clinic_id
    LEFT JOIN frontdesk_afterhours ah ON ah.receptionist_id = r.id
    LEFT JOIN frontdesk_location loc ON loc.id = r.location_id
    WHERE r.clinic_id = %s AND c.state = %s
    ORDER BY r.id = %s DESC, r.id
    LIMIT 1
) r ON TRUE
WHERE t.token_hash = %s AND t.revoked_at IS NULL
"""


def not_modified(request: HttpRequest) -> HttpResponse | None:
    """The 304 for a pickup fetch whose If-None-Match is current; None: let the view answer."""
    wanted = parse_etags(request.META.get("HTTP_IF_NONE_MATCH", ""))
    parts = request.META.get("HTTP_AUTHORIZATION", "").split()
    if not wanted or len(parts) != 2 or parts[0].lower() != "bearer":
        return None
    raw = parts[1]
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    try:
        clinic_id = uuid.UUID(request.GET.get("clinic", "").strip())
    except ValueError:
        return None
    named = named_receptionist(request.GET.get("receptionist", "").strip())
    # Prepared on the connection: parsed and planned once, not at every pickup (0142).
    prepared = getattr(connection, "prepared_cursor", None)
    with prepared() if prepared is not None else connection.cursor() as cur:
        cur.execute(STATEMENT, [clinic_id, str(Clinic.State.LIVE), named, hash_token(raw)])
        row = cur.fetchone()
    if row is None or row[3] is None:
        return None
    token_id, last_used_at, clinic, receptionist, version = row[:5]
    zone, desk_version, weekly, closures, after_version = row[5:10]
    if isinstance(weekly, str):  # jsonb comes back decoded; text only on odd drivers
        weekly, closures = json.loads(weekly), json.loads(closures or "[]")
    location = _location(row[10:16])
    # Open or closed and the next change are part of the ETag (decision 0091), and the
    # receptionist's location (decision 0121).
    part = etag_part_from_rows(desk_version, weekly, closures, after_version, zone, location)
    etag = config_etag(clinic, receptionist, version, part)
    if etag not in wanted and "*" not in wanted:
        return None
    worker = worker_project(request.META)
    if worker is not None and not serves(worker, row[16:18]):
        return None  # a worker of another project: the view answers, saying so (0155)
    now = timezone.now()
    if last_used_at is None or now - last_used_at > LAST_USED_RESOLUTION:
        AgentToken.objects.filter(pk=token_id).update(last_used_at=now)
    response = HttpResponseNotModified()
    response["ETag"] = etag
    response["Cache-Control"] = CONFIG_CACHE_CONTROL
    response["Vary"] = "Authorization"
    return response


def _location(columns: Sequence[Any]) -> LocationRow | None:
    loc_id, version, own_hours, zone, weekly, closures = columns
    if loc_id is None:
        return None
    if isinstance(weekly, str):
        weekly, closures = json.loads(weekly), json.loads(closures or "[]")
    return LocationRow(loc_id, version, own_hours, zone or "", weekly or [], closures or [])


class AgentConfigNotModifiedMiddleware:
    """Placed before the session middleware (config/settings.py MIDDLEWARE)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            request.path_info == PATH
            and request.method == "GET"
            and "HTTP_IF_NONE_MATCH" in request.META
        ):
            response = not_modified(request)
            if response is not None:
                return response
        return self.get_response(request)
