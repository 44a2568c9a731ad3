"""The call log page at scale: keyset pages (no COUNT, no OFFSET), the same queries whatever
the number of calls, and the plan PostgreSQL picks at a realistic row count (decision 0100)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from telephony.models import Call
from telephony.selectors import CALL_LOG_PAGE, CALL_ORDER, call_log_rows
from tests.factories import UserFactory, make_clinic

pytestmark = pytest.mark.django_db


def log_url(clinic, before=None):
    url = reverse("tenants:call_log", args=[clinic.slug])
    return f"{url}?before={before}" if before is not None else url


def add_calls(clinic, n, *, prefix="RM", no_start=0, same_start=0):
    """n calls a minute apart; the first `no_start` have no start time, the next `same_start`
    share one start time (ties broken by the id)."""
    now = timezone.now()
    rows = []
    for i in range(n):
        started = None if i < no_start else now - timedelta(minutes=i)
        if no_start <= i < no_start + same_start:
            started = now - timedelta(days=1)
        rows.append(
            Call(
                clinic=clinic,
                room_sid=f"{prefix}_{clinic.pk.hex[:6]}_{i}",
                room_name=f"{clinic.room_prefix}_{i}",
                mapped_by="trunk",
                status="completed",
                started_at=started,
                caller_last4=f"{i % 10000:04d}",
            )
        )
    return Call.objects.bulk_create(rows)


def walk(client, clinic):
    """Every page from the newest, following "Older calls"; the room SIDs in order."""
    seen, before, pages = [], None, 0
    while True:
        r = client.get(log_url(clinic, before))
        assert r.status_code == 200
        page = r.context["page"]
        assert len(page.calls) <= CALL_LOG_PAGE
        seen += [c.room_sid for c in page.calls]
        pages += 1
        html = r.content.decode()
        assert ("Older calls →" in html) == (page.older is not None)
        assert ("Latest calls</h2>" in html) == (before is None)
        if page.older is None:
            return seen, pages
        before = page.older
        assert pages < 20


def test_pages_follow_each_other_without_gaps_or_repeats(clinic, owner):
    add_calls(clinic, 2 * CALL_LOG_PAGE + 7, no_start=3, same_start=60)
    other = make_clinic(UserFactory(email="o@other.example"), "Other Clinic")
    add_calls(other, 30, prefix="RO")
    client = Client()
    client.force_login(owner)
    seen, pages = walk(client, clinic)
    expected = list(Call.objects.filter(clinic=clinic).order_by(*CALL_ORDER))
    assert seen == [c.room_sid for c in expected]
    assert pages == 3 and len(set(seen)) == 2 * CALL_LOG_PAGE + 7
    # the calls without a start time come first, as the order puts them
    assert all(c.started_at is None for c in expected[:3])


def test_a_cursor_of_another_clinic_or_gone_shows_the_latest_calls(clinic, owner):
    add_calls(clinic, 5)
    other = make_clinic(UserFactory(email="o@other.example"), "Other Clinic")
    (foreign, *_) = add_calls(other, 3, prefix="RO")
    client = Client()
    client.force_login(owner)
    for before in (foreign.pk, 10**12, "x'; --"):
        r = client.get(log_url(clinic, before))
        assert r.status_code == 200 and r.context["page"].first
        assert [c.clinic_id for c in r.context["page"].calls] == [clinic.pk] * 5


def page_queries(client, url):
    client.get(url)  # warm: session, time zone, content types
    with CaptureQueriesContext(connection) as q:
        assert client.get(url).status_code == 200
    return len(q.captured_queries)


def test_the_page_costs_the_same_queries_at_any_number_of_calls(clinic, owner):
    client = Client()
    client.force_login(owner)
    add_calls(clinic, 3)
    small = page_queries(client, log_url(clinic))
    small_later = page_queries(client, log_url(clinic, Call.objects.order_by("id")[1].pk))
    add_calls(clinic, 400, prefix="RB")
    cursor = list(Call.objects.filter(clinic=clinic).order_by(*CALL_ORDER))[300].pk
    assert page_queries(client, log_url(clinic)) == small
    assert page_queries(client, log_url(clinic, cursor)) == small_later == small + 1


SEED = """
INSERT INTO telephony_call (clinic_id, room_sid, room_name, trunk_id, rule_id, call_id,
    caller_last4, caller_number, called_number, status, started_at, mapped_by, is_test,
    created_at, updated_at)
SELECT %(clinic)s, 'RM_plan_' || %(tag)s || '_' || g, 'p_' || g, '', '', '', '', '', '',
       'completed', now() - g * interval '1 minute', 'trunk', false, now(), now()
FROM generate_series(1, %(n)s) AS g
"""


def test_postgresql_reads_a_page_from_the_index_without_sorting(clinic):
    """At 40,000 rows over 5 clinics (ANALYZEd), both a first and a later page are an index
    range read of one page's rows: no sort of the clinic's calls, no scan of the table."""
    clinics = [clinic] + [
        make_clinic(UserFactory(email=f"p{i}@plan.example"), f"Plan Clinic {i}") for i in range(4)
    ]
    with connection.cursor() as cur:
        for i, c in enumerate(clinics):
            cur.execute(SEED, {"clinic": c.pk, "tag": str(i), "n": 8000})
        cur.execute("ANALYZE telephony_call")
    cursor = Call.objects.filter(clinic=clinic).order_by(*CALL_ORDER)[5000].pk
    for before in ("", str(cursor)):
        rows, _ = call_log_rows(clinic=clinic, before=before)
        plan = rows[: CALL_LOG_PAGE + 1].explain()
        assert "call_log_order" in plan, plan
        assert "Sort" not in plan and "Seq Scan" not in plan, plan


def test_the_call_table_has_no_pattern_indexes():
    """The `_like` copies went (decision 0100); nothing queries calls by prefix."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename IN "
            "('telephony_call', 'webhooks_webhookevent') AND indexdef LIKE '%%pattern_ops%%'"
        )
        assert cur.fetchall() == []
