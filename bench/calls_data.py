"""The call-load benchmark's data: 10,000 live clinics, a million call rows, members signed
in, an agent token, and LiveKit-signed webhooks for the calls it replays.

Clinics go live for real in the emulator (their trunks and rules created through livekit-api,
bench_drift.seed_live), so the drift scan that runs during the load compares real state. The
call log is filled with one INSERT ... SELECT over generate_series (server-side, no rows
through Python): one clinic, the *heavy* one, holds a tenth of them (100,000 calls); the
others about 90 each, spread over 90 days. A share of the live clinics (10 % by default) has
an outgoing webhook endpoint for call.started and call.ended, on a sink process that answers
200 at once, so each call also writes the outbox and the worker delivers.
"""

from __future__ import annotations

import base64
import hashlib
import random
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bench import common
from bench.loadgen import build_request

CALLS_SQL = """
WITH c AS (
    SELECT id, room_prefix, row_number() OVER (ORDER BY room_prefix) AS rn
    FROM tenants_clinic WHERE state = 'live'
)
INSERT INTO telephony_call (
    clinic_id, room_sid, room_name, trunk_id, rule_id, call_id, caller_last4, caller_number,
    called_number, status, started_at, answered_at, ended_at, duration_seconds,
    caller_left_at, room_finished_at, mapped_by, is_test, created_at, updated_at)
SELECT c.id, 'RM_seed' || g, c.room_prefix || '_***' || lpad(mod(g, 10000)::text, 4, '0')
       || '_s' || g, '', '', '', lpad(mod(g, 10000)::text, 4, '0'),
       '+1555' || lpad(mod(g, 10000000)::text, 7, '0'), '', 'completed',
       t, t + interval '5 seconds', t + interval '125 seconds', 120,
       t + interval '125 seconds', t + interval '126 seconds', 'trunk', false, t, t
FROM generate_series(1, %(n)s) AS g
CROSS JOIN LATERAL (SELECT now() - g * %(step)s * interval '1 second' AS t) AS ts
JOIN c ON c.rn = CASE WHEN mod(g, 10) = 0 THEN 1 ELSE 2 + mod(g, %(clinics)s - 1) END
"""


def seed_calls(n: int, clinics: int, days: float = 90) -> float:
    """n completed calls in the log (a tenth at the heavy clinic); returns seconds taken."""
    from django.db import connection

    began = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute(CALLS_SQL, {"n": n, "step": days * 86400 / max(1, n), "clinics": clinics})
        cur.execute("ANALYZE telephony_call")
    return time.perf_counter() - began


def heavy_clinic() -> dict[str, Any]:
    from tenants.models import Clinic, Membership

    clinic = Clinic.objects.filter(state="live").order_by("room_prefix").first()
    assert clinic is not None
    owner = Membership.objects.filter(clinic=clinic).values_list("user_id", flat=True).first()
    return {"id": str(clinic.pk), "slug": clinic.slug, "user_id": owner}


def session_cookies(user_ids: list[int]) -> list[str]:
    """A signed-in session per member (as the sign-in page would leave it)."""
    from django.test import Client

    from tenants.models import User

    cookies = []
    for user in User.objects.filter(pk__in=user_ids):
        client = Client()
        client.force_login(user)
        cookies.append(f"sessionid={client.cookies['sessionid'].value}")
    return cookies


def agent_token() -> str:
    from telephony.agent_tokens import agent_token_create

    return agent_token_create(name=f"bench-{uuid.uuid4().hex[:6]}")[1]


def config_etags(clinic_ids: list[str]) -> dict[str, str]:
    """The ETag the config API gives each clinic's first receptionist now, computed by the
    platform's own functions (version, the call-time part: open or closed, next change, and
    the clinic's name and transcript policy)."""
    from frontdesk.config import call_time
    from telephony.agent_config import clinic_etag_part, config_etag
    from telephony.models import CallLogPolicy, Receptionist

    # A request without a receptionist gets the clinic's first (the oldest) receptionist.
    rows = (
        Receptionist.objects.filter(clinic_id__in=clinic_ids)
        .select_related("clinic", "clinic__front_desk", "after_hours")
        .order_by("-id")
    )
    days = dict(
        CallLogPolicy.objects.filter(clinic_id__in=clinic_ids).values_list(
            "clinic_id", "transcript_days"
        )
    )
    return {  # the lowest id wins
        str(r.clinic_id): config_etag(
            r.clinic_id,
            r.pk,
            r.version,
            call_time(r).etag_part,
            clinic_part=clinic_etag_part(r.clinic.name, days.get(r.clinic_id)),
        )
        for r in rows
    }


# --- LiveKit's webhooks ------------------------------------------------------------------------

EVENTS = ("room_started", "participant_joined", "participant_left", "room_finished")


@dataclass(frozen=True)
class CallPlan:
    room_sid: str
    room_name: str
    clinic_id: str
    events: list[tuple[str, bytes]]  # (event, raw HTTP request), in the order they are sent
    shuffled: bool
    repeats: int


def _bodies(clinic: dict[str, Any], n: int, rng: random.Random) -> tuple[str, str, list[str]]:
    from google.protobuf import json_format
    from livekit import api

    now = int(time.time())
    caller = f"+1555{rng.randrange(10**7):07d}"
    sid = f"RM_bench{uuid.uuid4().hex[:16]}"
    name = f"{clinic['room_prefix']}_{caller}_{uuid.uuid4().hex[:8]}"
    room = api.Room(sid=sid, name=name, creation_time=now, creation_time_ms=now * 1000)
    person = api.ParticipantInfo(
        sid=f"PA_{uuid.uuid4().hex[:12]}",
        identity=f"sip_{caller}",
        name=f"Phone {caller}",
        kind=api.ParticipantInfo.Kind.SIP,
        joined_at=now + 1,
        joined_at_ms=(now + 1) * 1000,
        attributes={
            "sip.trunkID": clinic["trunk_id"],
            "sip.ruleID": clinic["rule_id"],
            "sip.callID": f"SCL_{uuid.uuid4().hex[:12]}",
            "sip.phoneNumber": caller,
            "sip.trunkPhoneNumber": clinic["e164"],
            "switchboard.clinic": clinic["id"],
        },
    )
    bodies = []
    for i, event in enumerate(EVENTS):
        message = api.WebhookEvent(
            event=event, room=room, id=f"EV_{uuid.uuid4().hex[:12]}", created_at=now + i * 60
        )
        if event.startswith("participant_"):
            message.participant.CopyFrom(person)
        bodies.append(json_format.MessageToJson(message, indent=None))
    return sid, name, bodies


def sign(body: str, ttl_s: int) -> str:
    """What LiveKit sends in Authorization: a JWT from the API key, `sha256` of the body."""
    from livekit import api

    digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
    token = api.AccessToken(common.LIVEKIT_KEY, common.LIVEKIT_SECRET).with_sha256(digest)
    return token.with_ttl(timedelta(seconds=ttl_s)).to_jwt()


def plan_calls(
    clinics: list[dict[str, Any]],
    n: int,
    host: str,
    *,
    ttl_s: int,
    shuffle_share: float = 0.1,
    repeat_share: float = 0.05,
    seed: int = 19,
) -> list[CallPlan]:
    """n calls to random live clinics, each its four events signed; a share of calls has its
    events in a random order, and a share of events is delivered twice (LiveKit retries)."""
    rng = random.Random(seed)
    plans = []
    for _ in range(n):
        clinic = rng.choice(clinics)
        sid, name, bodies = _bodies(clinic, n, rng)
        order = list(range(len(EVENTS)))
        shuffled = rng.random() < shuffle_share
        if shuffled:
            rng.shuffle(order)
        events: list[tuple[str, bytes]] = []
        repeats = 0
        for i in order:
            headers = {
                "Authorization": sign(bodies[i], ttl_s),
                "Content-Type": "application/webhook+json",
            }
            raw = build_request("POST", "/webhooks/livekit", host, headers, bodies[i].encode())
            events.append((EVENTS[i], raw))
            if rng.random() < repeat_share:
                events.append((EVENTS[i], raw))
                repeats += 1
        plans.append(CallPlan(sid, name, clinic["id"], events, shuffled, repeats))
    return plans


def live_clinics(limit: int | None = None) -> list[dict[str, Any]]:
    """What the webhooks need of each live clinic: ids, prefix, trunk, rule, a number."""
    from telephony.models import PhoneNumber, Provisioning

    provs = Provisioning.objects.filter(clinic__state="live").exclude(trunk_id="")
    rows = list(
        provs.values_list("clinic_id", "clinic__room_prefix", "trunk_id", "dispatch_rule_id")[
            :limit
        ]
    )
    numbers = dict(
        PhoneNumber.objects.filter(clinic_id__in=[r[0] for r in rows]).values_list(
            "clinic_id", "e164"
        )
    )
    return [
        {"id": str(c), "room_prefix": p, "trunk_id": t, "rule_id": r, "e164": numbers.get(c, "")}
        for c, p, t, r in rows
    ]


def check_calls(plans: list[CallPlan], answered: set[str]) -> dict[str, int]:
    """Lost: every event of a call answered 2xx, yet no completed row for its room.
    Duplicated: more than one row for one call (same room name), or the wrong clinic."""
    from django.db.models import Count

    from telephony.calllog import redact_room_name
    from telephony.models import Call

    wanted = {p.room_sid: p for p in plans if p.room_sid in answered}
    rows: dict[str, tuple[str, str]] = {}
    sids = list(wanted)
    for start in range(0, len(sids), 5000):
        for sid, status, clinic in Call.objects.filter(
            room_sid__in=sids[start : start + 5000]
        ).values_list("room_sid", "status", "clinic_id"):
            rows[sid] = (status, str(clinic))
    lost = sum(1 for sid in wanted if rows.get(sid, ("", ""))[0] != "completed")
    wrong = sum(1 for sid, p in wanted.items() if sid in rows and rows[sid][1] != p.clinic_id)
    names = [redact_room_name(p.room_name) for p in plans]
    dup = 0
    for start in range(0, len(names), 5000):
        dup += (
            Call.objects.filter(room_name__in=names[start : start + 5000])
            .values("room_name")
            .annotate(n=Count("id"))
            .filter(n__gt=1)
            .count()
        )
    return {"calls_answered": len(wanted), "lost": lost, "duplicated": dup, "wrong_clinic": wrong}


def seed_endpoints(clinic_ids: list[str], base_url: str) -> int:
    """One enabled endpoint (call.started, call.ended) per clinic, on the sink."""
    from webhooks import signing
    from webhooks.models import EventType, WebhookEndpoint

    events = [EventType.CALL_STARTED.value, EventType.CALL_ENDED.value]
    rows = [
        WebhookEndpoint(
            clinic_id=c, url=f"{base_url}/c{i:05d}", events=events, secret=signing.new_secret()
        )
        for i, c in enumerate(clinic_ids)
    ]
    return len(WebhookEndpoint.objects.bulk_create(rows, batch_size=2000))


def outbox_state() -> dict[str, int]:
    """Outgoing webhooks written during the run and where their deliveries stand."""
    from django.db.models import Count

    from webhooks.models import WebhookDelivery, WebhookEvent

    by_status = dict(
        WebhookDelivery.objects.values_list("status").annotate(n=Count("id")).order_by()
    )
    deliveries = {f"deliveries_{k}": v for k, v in by_status.items()}
    return {"events": WebhookEvent.objects.count(), **deliveries}
