"""The agent's config fetch at pickup, answered before the rest of the stack when it can be
(decisions 0101 and 0145).

The agent worker fetches `GET /api/v1/agent/config?clinic=…` when it picks up a call, with
the ETag of the config it holds; the caller waits for the answer, and nearly always the
answer is "unchanged". That answer needs two facts: the token is an active agent token, and
the current ETag of the receptionist the request is for. This middleware reads both in ONE
prepared statement and answers the 304 itself, without the session, CSRF, user, two-factor,
audit, message, time-zone and rate-limit middleware, URL resolution or DRF, none of which a
bearer-token request without a body uses.

When the ETag is not the one the worker holds (a worker that just started, a config saved,
the clinic opening or closing), the answer is a 200 with the whole config, which costs the
view three ORM queries and building the answer, ten times the 304. The view's answers are
kept in this process by ETag (`ANSWERS`), so the next fetch of the same config, by any
worker, is answered from the same one statement. Anything else (an unknown or revoked
token, a clinic not live, `?room=`) goes on to the view, which answers as it always did.

The ETag is read from the rows at every fetch, so a config saved (its version bumped), a
clinic renamed or suspended changes the answer at once, and a revoked token stops working
at once (decision 0054): the cache holds answers, never a decision to answer.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.utils import timezone
from django.utils.http import parse_etags

from frontdesk.config import LocationRow, etag_part_from_rows
from frontdesk.models import AfterHours
from telephony.agent_config import (
    CONFIG_CACHE_CONTROL,
    clinic_etag_part,
    config_etag,
    named_receptionist,
)
from telephony.agent_project import serves, worker_project
from telephony.agent_tokens import LAST_USED_RESOLUTION, TOKEN_PREFIX, hash_token
from telephony.models import AgentToken
from tenants.models import Clinic

PATH = "/api/v1/agent/config"
ROUTE = AfterHours.Action.ROUTE

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
       r.project, r.move_source,
       r.clinic_name, r.transcript_days, r.route_id, r.route_version
FROM telephony_agenttoken t
LEFT JOIN LATERAL (
    SELECT r.clinic_id, r.id, r.version, c.timezone, c.name AS clinic_name,
           pol.transcript_days, tgt.id AS route_id, tgt.version AS route_version,
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
    LEFT JOIN telephony_receptionist tgt ON tgt.id = ah.route_to_id AND ah.action = %s
    LEFT JOIN frontdesk_location loc ON loc.id = r.location_id
    LEFT JOIN telephony_calllogpolicy pol ON pol.clinic_id = r.clinic_id
    WHERE r.clinic_id = %s AND c.state = %s
    ORDER BY r.id = %s DESC, r.id
    LIMIT 1
) r ON TRUE
WHERE t.token_hash = %s AND t.revoked_at IS NULL
"""


class Pickup(NamedTuple):
    """What the one statement says of a pickup fetch: its current ETag and the token row."""

    etag: str
    token_id: int
    last_used_at: datetime | None
    served: bool  # the worker's project serves the clinic, or it named none (0155)


def read_pickup(request: HttpRequest) -> Pickup | None:
    """The current ETag of the config a `?clinic=` fetch with an agent token asks for, read
    in ONE prepared statement; None when the view must answer (no bearer token, a token that
    is not an active agent token, a clinic that is not live, `?room=`, nonsense)."""
    parts = request.META.get("HTTP_AUTHORIZATION", "").split()
    if len(parts) != 2 or parts[0].lower() != "bearer":
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
        cur.execute(
            STATEMENT,
            [str(ROUTE), clinic_id, str(Clinic.State.LIVE), named, hash_token(raw)],
        )
        row = cur.fetchone()
    if row is None or row[3] is None:
        return None
    token_id, last_used_at, clinic, receptionist, version = row[:5]
    zone, desk_version, weekly, closures, after_version = row[5:10]
    if isinstance(weekly, str):  # jsonb comes back decoded; text only on odd drivers
        weekly, closures = json.loads(weekly), json.loads(closures or "[]")
    location = _location(row[10:16])
    # Open or closed and the next change are part of the ETag (decision 0091), and the
    # receptionist's location (decision 0121), the clinic's name and transcript policy (0145).
    route = (row[20], row[21]) if row[20] is not None else None
    part = etag_part_from_rows(desk_version, weekly, closures, after_version, zone, location, route)
    facts = clinic_etag_part(row[18], row[19])
    etag = config_etag(clinic, receptionist, version, part, clinic_part=facts)
    worker = worker_project(request.META)
    served = worker is None or serves(worker, row[16:18])
    return Pickup(etag, token_id, last_used_at, served)


def answer_before_the_stack(request: HttpRequest) -> HttpResponse | None:
    """The 304 for a pickup fetch whose If-None-Match is current, or the 200 from this
    process's cache of answers by ETag; None: let the view answer."""
    pickup = read_pickup(request)
    if pickup is None:
        return None
    if not pickup.served:
        return None  # a worker of another project: the view answers, saying so (0155)
    wanted = parse_etags(request.META.get("HTTP_IF_NONE_MATCH", ""))
    response: HttpResponse
    if pickup.etag in wanted or "*" in wanted:
        response = HttpResponseNotModified()
    else:
        kept = ANSWERS.get(pickup.etag) if request.accepts(JSON) else None
        if kept is None:
            request.META[EXPECTED_ETAG] = pickup.etag
            return None
        response = HttpResponse(kept.body, content_type=kept.content_type)
        response["Vary"] = kept.vary
    _touch(pickup)
    response["ETag"] = pickup.etag
    response["Cache-Control"] = CONFIG_CACHE_CONTROL
    response.headers.setdefault("Vary", "Authorization")
    return response


def _touch(pickup: Pickup) -> None:
    now = timezone.now()
    if pickup.last_used_at is None or now - pickup.last_used_at > LAST_USED_RESOLUTION:
        AgentToken.objects.filter(pk=pickup.token_id).update(last_used_at=now)


def _location(columns: Sequence[Any]) -> LocationRow | None:
    loc_id, version, own_hours, zone, weekly, closures = columns
    if loc_id is None:
        return None
    if isinstance(weekly, str):
        weekly, closures = json.loads(weekly), json.loads(closures or "[]")
    return LocationRow(loc_id, version, own_hours, zone or "", weekly or [], closures or [])


class Answer(NamedTuple):
    """A 200 the view gave: its body and the headers that describe it."""

    body: bytes
    content_type: str
    vary: str


class AnswerCache:
    """The last config answers this process gave, by ETag (least recently used first out).

    An ETag names everything its answer shows (`config_etag`), and it is read from the rows
    at every fetch, so an answer found under the current ETag is the answer the view would
    give now; a change makes a new ETag, and the old entry simply stops being asked for.
    Bounded: `MAX_ANSWERS` answers of a few kilobytes each per process."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, Answer] = OrderedDict()
        self._lock = threading.Lock()  # gunicorn's threaded workers share a process

    def get(self, etag: str) -> Answer | None:
        with self._lock:
            body = self._items.get(etag)
            if body is not None:
                self._items.move_to_end(etag)
            return body

    def put(self, etag: str, answer: Answer) -> None:
        with self._lock:
            self._items[etag] = answer
            self._items.move_to_end(etag)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


MAX_ANSWERS = 2048
JSON = "application/json"  # the only answer kept, and given only to a request that takes it
ANSWERS = AnswerCache(MAX_ANSWERS)
# Set on a request whose answer the view must give: the ETag the statement read, so the
# view's answer is kept only when the view saw the same rows.
EXPECTED_ETAG = "switchboard.expected_config_etag"


class AgentConfigNotModifiedMiddleware:
    """Placed before the session middleware (config/settings.py MIDDLEWARE)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            request.path_info != PATH
            or request.method != "GET"
            or "room" in request.GET
            or connection.vendor != "postgresql"  # the statement is PostgreSQL's (make run: SQLite)
        ):
            return self.get_response(request)
        early = answer_before_the_stack(request)
        if early is not None:
            return early
        response = self.get_response(request)
        expected = request.META.get(EXPECTED_ETAG)
        if (
            expected is not None
            and response.status_code == 200
            and response.get("ETag") == expected
            and response.get("Content-Type", "").startswith(JSON)
            and not response.streaming
        ):
            answer = Answer(response.content, response["Content-Type"], response.get("Vary", ""))
            ANSWERS.put(expected, answer)
        return response
