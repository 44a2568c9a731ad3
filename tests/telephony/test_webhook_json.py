"""The webhook body reader (telephony.livekit_gateway.webhook_json, decision 0144) against
livekit-api's own parser: for every body LiveKit's JSON mapping allows, both give the same
event, or the fast reader steps aside and the library decides."""

from __future__ import annotations

import json
import random

import pytest
from google.protobuf import json_format
from livekit import api

from telephony.livekit_gateway import WebhookRejected, verify_webhook
from telephony.livekit_gateway.webhook_json import read_event
from telephony.livekit_gateway.webhooks import _library_event
from tests.telephony.webhook_helpers import KEY, SECRET, sign

KINDS = list(api.ParticipantInfo.Kind.values())
EVENTS = ["room_started", "participant_joined", "participant_left", "room_finished", "egress_ended"]


def message(rng: random.Random) -> api.WebhookEvent:
    """A WebhookEvent with a random subset of the fields set, and some the log never reads."""
    event = api.WebhookEvent(event=rng.choice(EVENTS), id=f"EV_{rng.randrange(10**6)}")
    if rng.random() < 0.8:
        event.created_at = rng.choice([0, 1_700_000_000 + rng.randrange(10**6)])
    if rng.random() < 0.9:
        event.room.sid = f"RM_{rng.randrange(10**6)}"
        event.room.name = rng.choice(["", "clinic_+15551234567_x", "é_ünïcode_☎"])
        event.room.creation_time = rng.choice([0, 1_700_000_000])
        event.room.creation_time_ms = rng.choice([0, 1_700_000_000_123])
        event.room.empty_timeout = rng.randrange(600)  # not read by the log
        event.room.enabled_codecs.add(mime="audio/opus")
    if rng.random() < 0.7:
        person = event.participant
        person.sid = f"PA_{rng.randrange(10**6)}"
        person.identity = rng.choice(["", "sip_+15551234567", "agent-1"])
        person.name = rng.choice(["", "Phone 4567"])
        person.kind = rng.choice(KINDS)
        person.joined_at = rng.choice([0, 1_700_000_001])
        person.joined_at_ms = rng.choice([0, 1_700_000_001_500])
        for n in range(rng.randrange(4)):
            person.attributes[f"sip.attr{n}"] = rng.choice(["", "x", "+15551234567"])
        person.tracks.add(sid="TR_1", name="audio")  # not read by the log
    return event


@pytest.mark.parametrize("seed", range(60))
def test_it_reads_what_the_library_reads(seed):
    rng = random.Random(seed)
    event = message(rng)
    for proto_names in (False, True):
        for int_enums in (False, True):
            text = json_format.MessageToJson(
                event,
                indent=None,
                preserving_proto_field_name=proto_names,
                use_integers_for_enums=int_enums,
            )
            fast = read_event(text)
            assert fast is not None, text
            assert fast == _library_event(text), text


def test_int64_as_numbers_and_unknown_fields_are_read():
    text = json.dumps(
        {
            "event": "room_started",
            "createdAt": 1_700_000_000,
            "room": {"sid": "RM_1", "name": "r", "creationTimeMs": "1700000000500"},
            "somethingNew": {"nested": [1, 2]},
        }
    )
    assert read_event(text) == _library_event(text)
    assert read_event(text).room.created_at == 1_700_000_000.5


@pytest.mark.parametrize(
    "text",
    [
        '{"event": null}',
        '{"event": 12}',
        '{"room": "x"}',
        '{"room": {"sid": 5}}',
        '{"createdAt": "12x"}',
        '{"createdAt": 1.5}',
        '{"createdAt": "99999999999999999999"}',
        '{"created_at": "1", "createdAt": "2"}',
        '{"participant": {"kind": "ROBOT"}}',
        '{"participant": {"kind": 999}}',
        '{"participant": {"attributes": {"a": 1}}}',
        '{"participant": {"joinedAt": true}}',
        "[1, 2]",
        "not json",
    ],
)
def test_off_shape_bodies_go_to_the_library(text):
    assert read_event(text) is None


@pytest.mark.parametrize(
    "text",
    [
        '{"event": 12, "room": "x"}',
        '{"created_at": "1", "createdAt": "2"}',
        '{"createdAt": 1.0, "event": null, "room": null}',
        '{"participant": {"kind": 999}}',
        "not json",
    ],
)
def test_verify_gives_the_library_answer_for_off_shape_bodies(text):
    """Off the plain shape, the library decides: its event, or 400 where it refuses."""
    auth = sign(text)
    try:
        expected = _library_event(text)
    except Exception:
        expected = None
    if expected is not None:
        assert verify_webhook(text, auth, api_key=KEY, api_secret=SECRET) == expected
        return
    with pytest.raises(WebhookRejected) as refused:
        verify_webhook(text, auth, api_key=KEY, api_secret=SECRET)
    assert refused.value.status == 400


def test_a_body_that_is_not_the_signed_one_is_refused():
    text = '{"event": "room_started"}'
    auth = sign(text)
    with pytest.raises(WebhookRejected) as refused:
        verify_webhook(text + " ", auth, api_key=KEY, api_secret=SECRET)
    assert (refused.value.status, refused.value.reason) == (
        401,
        "body does not match its signature",
    )


def test_a_token_without_a_body_hash_is_refused():
    import time

    import jwt

    now = int(time.time())
    token = jwt.encode({"iss": KEY, "exp": now + 60}, SECRET, algorithm="HS256")
    with pytest.raises(WebhookRejected) as refused:
        verify_webhook("{}", token, api_key=KEY, api_secret=SECRET)
    assert refused.value.status == 401
