"""Dispatch metadata parsing and the room-name fallback (agent/metadata.py)."""

import json
import uuid

import pytest

from agent.metadata import (
    MetadataError,
    UnroutableJob,
    parse_job_metadata,
    resolve_target,
)

CLINIC = uuid.UUID("5b1c1f8e-8d0e-4c55-9a53-2f1f1c0e7a11")
ROOM = "brightsmile_4567_Ab3dE5fG7hJk"


def test_it_parses_the_contract_metadata():
    meta = parse_job_metadata(json.dumps({"clinic": str(CLINIC), "config_version": 7}))
    assert meta.clinic == CLINIC
    assert meta.config_version == 7


def test_it_accepts_missing_config_version_and_ignores_unknown_keys():
    meta = parse_job_metadata(json.dumps({"clinic": str(CLINIC).upper(), "extra": [1]}))
    assert meta.clinic == CLINIC
    assert meta.config_version is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "must be a JSON object, got list"),
        ("{}", 'no "clinic"'),
        ('{"clinic": 12}', 'no "clinic"'),
        ('{"clinic": "  "}', 'no "clinic"'),
        ('{"clinic": "brightsmile"}', "is not a uuid"),
        (json.dumps({"clinic": str(CLINIC), "config_version": "7"}), "non-negative integer"),
        (json.dumps({"clinic": str(CLINIC), "config_version": -1}), "non-negative integer"),
        (json.dumps({"clinic": str(CLINIC), "config_version": True}), "non-negative integer"),
        (json.dumps({"clinic": str(CLINIC), "config_version": 1.5}), "non-negative integer"),
        (json.dumps({"clinic": str(CLINIC), "pad": "x" * 5000}), "larger than"),
    ],
)
def test_it_rejects_malformed_metadata_with_a_clear_error(raw, message):
    with pytest.raises(MetadataError, match=message):
        parse_job_metadata(raw)


def test_metadata_wins_over_the_room_name():
    raw = json.dumps({"clinic": str(CLINIC), "config_version": 3})
    target = resolve_target(raw, ROOM)
    assert (target.clinic, target.config_version, target.by_room) == (CLINIC, 3, False)


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_missing_metadata_falls_back_to_the_room_name(raw):
    target = resolve_target(raw, ROOM)
    assert target.by_room
    assert target.room == ROOM
    assert target.metadata_error is None


def test_malformed_metadata_falls_back_to_the_room_and_keeps_the_error():
    target = resolve_target('{"clinic": "nope"}', ROOM)
    assert target.by_room
    assert "is not a uuid" in (target.metadata_error or "")


@pytest.mark.parametrize("room", ["", "x", "_4567_Ab3dE5fG7hJk", "Bright_4567"])
def test_a_job_with_no_metadata_and_no_clinic_room_is_unroutable(room):
    with pytest.raises(UnroutableJob, match="no clinic prefix"):
        resolve_target("", room)


def test_it_parses_the_receptionist_and_passes_it_on():
    raw = json.dumps({"clinic": str(CLINIC), "config_version": 2, "receptionist": 12})
    assert parse_job_metadata(raw).receptionist == 12
    target = resolve_target(raw, ROOM)
    assert (target.clinic, target.receptionist, target.config_version) == (CLINIC, 12, 2)
    today = json.dumps({"clinic": str(CLINIC), "config_version": 2})  # rules before issue 15
    assert resolve_target(today, ROOM).receptionist is None


@pytest.mark.parametrize("value", ["12", 0, -3, True, 1.5])
def test_a_receptionist_that_is_not_a_positive_integer_is_malformed(value):
    raw = json.dumps({"clinic": str(CLINIC), "receptionist": value})
    with pytest.raises(MetadataError, match="receptionist"):
        parse_job_metadata(raw)
