"""The call log's ORM path for `make run`'s SQLite (telephony.call_portable) against the
PostgreSQL statements: the same events, in every order and with repeats, through both paths
into rooms of their own, must leave the same rows."""

from __future__ import annotations

import itertools
import random
from types import SimpleNamespace

import pytest

from telephony import calllog
from telephony.models import Call, Provisioning, TestCall
from tests.factories import make_clinic
from tests.telephony.test_webhooks import call_events, livekit_keys, post, room_of, sip  # noqa: F401

pytestmark = pytest.mark.django_db
SAME = (
    "clinic_id", "room_name", "trunk_id", "rule_id", "call_id", "caller_last4", "caller_number",
    "called_number", "status", "started_at", "answered_at", "ended_at", "duration_seconds",
    "caller_left_at", "room_finished_at", "mapped_by", "is_test",
)  # fmt: skip


@pytest.fixture
def portable(monkeypatch):
    """Switch telephony.calllog to the ORM path, as on SQLite."""

    def switch(on: bool) -> None:
        from django.db import connection

        monkeypatch.setattr(
            calllog, "connection", SimpleNamespace(vendor="sqlite") if on else connection
        )

    return switch


def rows_after(client, portable, texts_by_path):
    out = {}
    for path, (sid, texts) in texts_by_path.items():
        portable(path == "orm")
        for text in texts:
            assert post(client, text).status_code == 200
        row = Call.objects.get(room_sid=sid)
        out[path] = {name: getattr(row, name) for name in SAME}
    portable(False)
    return out


@pytest.mark.parametrize("order", list(itertools.permutations(range(4)))[::3])
@pytest.mark.parametrize("evidence", ["trunk", "rule", "attribute", "prefix"])
def test_every_order_gives_the_same_row_on_both_paths(client, portable, order, evidence):
    clinic = make_clinic(name="Portable Dental")
    Provisioning.objects.filter(clinic=clinic).update(trunk_id="ST_p", dispatch_rule_id="SDR_p")
    participant = {
        "trunk": sip(trunk="ST_p"),
        "rule": sip(rule="SDR_p"),
        "attribute": sip(clinic_attr=str(clinic.pk)),
        "prefix": sip(),
    }[evidence]
    rng = random.Random(hash(order))
    by_path = {}
    for path, sid in (("sql", "RM_sql0001"), ("orm", "RM_orm0001")):
        texts = [call_events(clinic, sid=sid, participant=participant)[i] for i in order]
        texts.insert(rng.randrange(len(texts)), texts[rng.randrange(len(texts))])  # a repeat
        by_path[path] = (sid, texts)
    rows = rows_after(client, portable, by_path)
    assert rows["orm"] == rows["sql"]
    assert rows["orm"]["status"] == "completed"


def test_a_test_call_is_marked_on_both_paths(client, portable):
    clinic = make_clinic(name="Portable Dental")
    TestCall.objects.create(
        clinic=clinic,
        mode="emulator",
        number="+14155550100",
        outcome="dispatch",
        passed=True,
        room_name=room_of(clinic),
    )
    by_path = {path: (sid, call_events(clinic, sid=sid)) for path, sid in
               (("sql", "RM_sqlt001"), ("orm", "RM_ormt001"))}  # fmt: skip
    rows = rows_after(client, portable, by_path)
    assert rows["orm"] == rows["sql"] and rows["orm"]["is_test"] is True


def test_stronger_evidence_moves_the_row_on_both_paths(client, portable):
    """A room first named by its prefix (clinic A), then by the trunk of clinic B."""
    first = make_clinic(name="Alpha Dental")
    second = make_clinic(name="Beta Dental")
    Provisioning.objects.filter(clinic=second).update(trunk_id="ST_beta")
    by_path = {}
    for path, sid in (("sql", "RM_sqls001"), ("orm", "RM_orms001")):
        texts = call_events(first, sid=sid, participant=sip(trunk="ST_beta"))
        by_path[path] = (sid, texts)
    rows = rows_after(client, portable, by_path)
    assert rows["orm"] == rows["sql"]
    assert (rows["orm"]["clinic_id"], rows["orm"]["mapped_by"]) == (second.pk, "trunk")


def test_a_room_of_no_clinic_is_ignored_on_the_orm_path(client, portable):
    portable(True)
    text = call_events(SimpleNamespace(room_prefix="nobody", pk="x"), sid="RM_none001")[0]
    assert post(client, text).status_code == 200
    assert not Call.objects.filter(room_sid="RM_none001").exists()
