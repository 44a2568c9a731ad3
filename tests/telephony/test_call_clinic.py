"""The webhook's clinic lookup in one statement (decision 0141): the evidence in the order
telephony.calllog documents, the clinic locked, the facts other apps asked for read with it."""

from __future__ import annotations

import pytest

from telephony import call_events
from telephony.call_clinic import find_clinic
from telephony.models import Call, Provisioning
from tests.factories import make_clinic

pytestmark = pytest.mark.django_db


@pytest.fixture
def three(db):
    clinics = [make_clinic(name=f"Clinic {i}") for i in range(3)]
    for i, clinic in enumerate(clinics):
        Provisioning.objects.filter(clinic=clinic).update(
            trunk_id=f"ST_{i}", dispatch_rule_id=f"SDR_{i}"
        )
    return clinics


def found(**kwargs):
    kwargs.setdefault("room_sid", "RM_none")
    kwargs.setdefault("room_name", "")
    result = find_clinic(**kwargs)
    return (result[0].pk, result[1]) if result else None


def test_the_strongest_evidence_names_the_clinic(three):
    a, b, c = three
    room = f"{c.room_prefix}_+14155550100_abc"
    Call.objects.create(clinic=b, room_sid="RM_1", room_name=room, mapped_by="rule")
    everything = {"trunk": "ST_0", "rule": "SDR_1", "attribute": str(c.pk)}
    assert found(room_sid="RM_1", room_name=room, **everything) == (a.pk, "trunk")
    del everything["trunk"]
    assert found(room_sid="RM_1", room_name=room, **everything) == (b.pk, "rule")
    del everything["rule"]
    assert found(room_sid="RM_1", room_name=room, **everything) == (c.pk, "attribute")
    assert found(room_sid="RM_1", room_name=room) == (b.pk, "rule")  # the row's clinic
    assert found(room_sid="RM_2", room_name=room) == (c.pk, "room_prefix")


def test_unknown_or_malformed_evidence_names_nothing(three):
    assert found(trunk="ST_other", rule="SDR_other", attribute="not-a-uuid") is None
    assert found(room_name="nobody_+14155550100_abc") is None
    assert found(room_name="x" * 300) is None
    assert found(trunk="", rule="") is None  # clinics without a trunk yet have ""


def test_the_facts_asked_for_come_with_the_clinic(three, monkeypatch):
    monkeypatch.setitem(call_events.CLINIC_FACTS, "probe_name_length", "length(cl.name)")
    clinic, _ = find_clinic(room_sid="RM_none", room_name="", trunk="ST_2")
    assert clinic.probe_name_length == len("Clinic 2")
