"""The gateway's error classification and request building (no network)."""

from __future__ import annotations

import aiohttp
import pytest
from google.protobuf.message import DecodeError
from livekit import api

from telephony.livekit_gateway import (
    AgentDispatch,
    LiveKitAuthError,
    LiveKitConflictError,
    LiveKitGateway,
    LiveKitNotFoundError,
    LiveKitPermanentError,
    LiveKitRejectedError,
    LiveKitTransientError,
    RuleSpec,
    TrunkSpec,
    _remote_rule,
    _remote_trunk,
    _retry_after,
    _rule_info,
    _trunk_info,
    classify,
)


def server_error(code: str, status: int, msg: str = "") -> api.ServerError:
    return api.ServerError(code, msg, status=status)


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (server_error("unavailable", 503), LiveKitTransientError),
        (server_error("internal", 500), LiveKitTransientError),
        (server_error("unknown", 502), LiveKitTransientError),
        (server_error("resource_exhausted", 429), LiveKitTransientError),
        (server_error("deadline_exceeded", 408), LiveKitTransientError),
        (server_error("canceled", 408), LiveKitTransientError),
        (server_error("unknown", 401), LiveKitAuthError),
        (server_error("unauthenticated", 401, "permissions denied"), LiveKitAuthError),
        (server_error("permission_denied", 403), LiveKitAuthError),
        (server_error("not_found", 404), LiveKitNotFoundError),
        (server_error("invalid_argument", 400, "trunk id must not be set"), LiveKitRejectedError),
        (
            server_error(
                "invalid_argument",
                400,
                'Conflicting inbound SIP Trunks: "ST_a" and "<new>", using the same number(s) '
                "[+1555] without AllowedNumbers set",
            ),
            LiveKitRejectedError,
        ),
        (
            server_error(
                "invalid_argument",
                400,
                "Dispatch rule for the same trunk, inbound number, number, and PIN combination "
                'already exists in dispatch rule "SDR_x" "<blank name>"',
            ),
            LiveKitRejectedError,
        ),
        (TimeoutError(), LiveKitTransientError),
        (TimeoutError(), LiveKitTransientError),
        (aiohttp.ClientConnectionError("refused"), LiveKitTransientError),
        (aiohttp.ServerDisconnectedError(), LiveKitTransientError),
        (ConnectionResetError(), LiveKitTransientError),
        (DecodeError("garbage"), LiveKitTransientError),
    ],
)
def test_it_classifies_every_failure(exc, kind):
    err = classify(exc)
    assert type(err) is kind
    assert err.permanent is issubclass(kind, LiveKitPermanentError)
    assert err.sentence


@pytest.mark.parametrize(
    "message", ["Conflicting inbound SIP Trunks: x", "worded some other way", ""]
)
def test_invalid_argument_is_classified_by_code_never_by_wording(message):
    """A conflict is only known once the engine lists the holders (reconcile.py): the
    gateway does not read LiveKit's message, so a rewording cannot change the outcome."""
    err = classify(server_error("invalid_argument", 400, message))
    assert type(err) is LiveKitRejectedError and err.permanent
    assert not isinstance(err, LiveKitConflictError)


@pytest.mark.parametrize(("header", "seconds"), [("5", 5.0), ("0", 0.0), ("", None), ("x", None)])
def test_retry_after_is_parsed(header, seconds):
    assert _retry_after(header) == seconds


def test_retry_after_http_date_is_in_the_future():
    import time
    from email.utils import formatdate

    value = _retry_after(formatdate(time.time() + 30, usegmt=True))
    assert value is not None and 25 <= value <= 31


def test_trunk_round_trips_through_protobuf():
    spec = TrunkSpec(
        name="switchboard x",
        metadata='{"clinic":"c"}',
        numbers=("+14155550100",),
        allowed_addresses=("192.0.2.0/24",),
        auth_username="u",
        auth_password="p",
        krisp_enabled=True,
    )
    info = api.SIPInboundTrunkInfo.FromString(_trunk_info(spec).SerializeToString())
    info.sip_trunk_id = "ST_abc"
    remote = _remote_trunk(info)
    assert remote.trunk_id == "ST_abc" and remote.as_spec() == spec


def test_rule_round_trips_through_protobuf():
    spec = RuleSpec(
        name="switchboard x",
        metadata="{}",
        trunk_ids=("ST_abc",),
        room_prefix="bright-ab12",
        hide_phone_number=True,
        agents=(AgentDispatch("receptionist", '{"clinic":"c","config_version":3}'),),
        attributes=(("switchboard.clinic", "c"),),
    )
    info = api.SIPDispatchRuleInfo.FromString(_rule_info(spec).SerializeToString())
    assert info.rule.WhichOneof("rule") == "dispatch_rule_individual"
    info.sip_dispatch_rule_id = "SDR_abc"
    assert _remote_rule(info).as_spec() == spec


def test_the_secret_never_shows_in_repr():
    gw = LiveKitGateway("http://127.0.0.1:1", "key", "top-secret-value-0123456789abcdefgh")
    spec = TrunkSpec(name="n", metadata="", numbers=(), auth_password="hunter2-secret")
    assert "top-secret" not in repr(gw)
    assert "hunter2" not in repr(spec)


def test_an_unreachable_livekit_is_transient_and_bounded():
    gw = LiveKitGateway("http://127.0.0.1:1", "key", "secret-0123456789abcdef0123456789", timeout=2)
    with pytest.raises(LiveKitTransientError):
        gw.list_inbound_trunks()
