"""Twirp wire format, routing, errors and auth (livekit-sip.md §1.1, §2, §3)."""

from __future__ import annotations

import json

import pytest
from livekit import api
from livekit.protocol import sip as proto_sip

from emulators.livekit.service import METHODS

from .helpers import error_of, inbound, raw, token, twirp


@pytest.fixture
def admin(emu):
    return "Bearer " + token(emu.api_key, emu.api_secret)


def test_it_routes_all_sixteen_sip_methods(emu, admin):
    assert len(METHODS) == 16
    for method in METHODS:
        status, _, body = twirp(emu.url, method, b"", auth=admin)
        assert status == 200 or error_of(body)["code"] != "bad_route", method


def test_it_answers_protobuf_with_protobuf_and_json_with_snake_case_defaults(emu, admin):
    create = inbound(["+15550001111"], name="pb").SerializeToString()
    status, headers, body = twirp(emu.url, "CreateSIPInboundTrunk", create, auth=admin)
    assert status == 200 and headers["Content-Type"].startswith("application/protobuf")
    assert proto_sip.SIPInboundTrunkInfo.FromString(body).name == "pb"
    payload = json.dumps({"trunk": {"name": "js", "numbers": ["+15550002222"]}, "bogus": 1})
    status, headers, body = twirp(
        emu.url,
        "CreateSIPInboundTrunk",
        payload.encode(),
        auth=admin,
        content_type="application/json; charset=utf-8",
    )
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    data = json.loads(body)
    assert data["sip_trunk_id"].startswith("ST_")
    assert data["allowed_addresses"] == [] and data["auth_username"] == ""  # emitted defaults


def test_an_empty_body_is_an_empty_message(emu, admin):
    status, _, body = twirp(emu.url, "ListSIPInboundTrunk", b"", auth=admin)
    assert status == 200 and proto_sip.ListSIPInboundTrunkResponse.FromString(body).items == []
    status, _, body = twirp(
        emu.url, "ListSIPInboundTrunk", b"", auth=admin, content_type="application/json"
    )
    assert status == 200 and json.loads(body) == {"items": []}


@pytest.mark.parametrize(
    ("http_method", "path", "content_type", "msg"),
    [
        (
            "GET",
            "ListSIPInboundTrunk",
            "application/protobuf",
            'unsupported method "GET" (only POST is allowed)',
        ),
        (
            "POST",
            "NoSuchMethod",
            "application/protobuf",
            'no handler for path "/twirp/livekit.SIP/NoSuchMethod"',
        ),
        (
            "POST",
            "CreateSIPTrunk",
            "application/protobuf",
            'no handler for path "/twirp/livekit.SIP/CreateSIPTrunk"',
        ),
        ("POST", "ListSIPInboundTrunk", "text/plain", 'unexpected Content-Type: "text/plain"'),
        (
            "POST",
            "ListSIPInboundTrunk",
            "application/xml",
            'unexpected Content-Type: "application/xml"',
        ),
    ],
)
def test_bad_routes_get_twirp_bad_route_with_the_invalid_route_meta(
    emu, admin, http_method, path, content_type, msg
):
    status, headers, body = twirp(
        emu.url, path, b"x", method=http_method, content_type=content_type, auth=admin
    )
    assert status == 404 and headers["Content-Type"] == "application/json"
    error = error_of(body)
    assert error["code"] == "bad_route" and error["msg"] == msg
    assert error["meta"] == {"twirp_invalid_route": f"{http_method} /twirp/livekit.SIP/{path}"}


@pytest.mark.parametrize(
    ("content_type", "body", "msg"),
    [
        ("application/protobuf", b"\xff\xff\xff\xff", "the protobuf request could not be decoded"),
        ("application/json", b"{not json", "the json request could not be decoded"),
        ("application/json", b"\xff\xfe", "the json request could not be decoded"),
    ],
)
def test_undecodable_bodies_are_malformed(emu, admin, content_type, body, msg):
    status, _, reply = twirp(
        emu.url, "ListSIPInboundTrunk", body, auth=admin, content_type=content_type
    )
    assert status == 400 and error_of(reply) == {"code": "malformed", "msg": msg}


def test_bodies_over_10_mib_get_a_plain_413(emu, admin):
    status, headers, body = twirp(
        emu.url, "ListSIPInboundTrunk", b"\0" * (10 * 1024 * 1024 + 1), auth=admin
    )
    assert status == 413 and headers["Content-Type"].startswith("text/plain") and body
    assert emu.control.healthz()["ok"]  # and it is still serving


def test_non_twirp_paths_are_404(emu):
    assert raw(emu.url, "/nothing", method="GET")[0] == 404


# -- auth (§3) -------------------------------------------------------------------------------


def test_no_authorization_header_is_twirp_unauthenticated_permissions_denied(emu):
    status, headers, body = twirp(emu.url, "ListSIPInboundTrunk", b"")
    assert status == 401 and headers["Content-Type"] == "application/json"
    assert error_of(body) == {"code": "unauthenticated", "msg": "permissions denied"}


@pytest.mark.parametrize(
    "make_header",
    [
        lambda k, s: "Basic abc",
        lambda k, s: "Bearer not-a-jwt",
        lambda k, s: "Bearer " + token("otherkey", s),
        lambda k, s: "Bearer " + token(k, "wrong-secret-wrong-secret-wrong-secret"),
        lambda k, s: "Bearer " + token(k, s, exp_in=-120),
        lambda k, s: "Bearer " + token(k, s, exp_in=None),
        lambda k, s: "Bearer " + token(k, s, algorithm="HS512"),
        lambda k, s: "Bearer " + token(k, s, nbf=9_999_999_999),
    ],
    ids=[
        "not-bearer",
        "unparseable",
        "unknown-key",
        "bad-signature",
        "expired",
        "no-exp",
        "hs512",
        "nbf-future",
    ],
)
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_middleware_failures_are_plain_text_401(emu, make_header):
    status, headers, body = twirp(
        emu.url, "ListSIPInboundTrunk", b"", auth=make_header(emu.api_key, emu.api_secret)
    )
    assert status == 401 and headers["Content-Type"].startswith("text/plain")
    with pytest.raises(ValueError):
        json.loads(body)


def test_one_minute_of_leeway_on_exp(emu):
    auth = "Bearer " + token(emu.api_key, emu.api_secret, exp_in=-30)
    assert twirp(emu.url, "ListSIPInboundTrunk", b"", auth=auth)[0] == 200


def test_the_client_sees_plain_401_as_unknown(emu):
    import asyncio

    async def main():
        async with api.LiveKitAPI(emu.url, emu.api_key, "x" * 40) as lk:
            await lk.sip.list_inbound_trunk(api.ListSIPInboundTrunkRequest())

    with pytest.raises(api.TwirpError) as caught:
        asyncio.run(main())
    assert caught.value.status == 401 and caught.value.code == "unknown"


@pytest.mark.parametrize("grants", [{}, {"call": True}, {"admin": False}])
def test_admin_methods_need_the_sip_admin_grant(emu, grants):
    auth = "Bearer " + token(emu.api_key, emu.api_secret, sip=grants)
    status, _, body = twirp(emu.url, "CreateSIPInboundTrunk", b"", auth=auth)
    assert status == 401 and error_of(body) == {
        "code": "unauthenticated",
        "msg": "permissions denied",
    }


def test_participant_methods_need_sip_call_then_answer_unimplemented(emu):
    admin_only = "Bearer " + token(emu.api_key, emu.api_secret)
    assert (
        error_of(twirp(emu.url, "CreateSIPParticipant", b"", auth=admin_only)[2])["code"]
        == "unauthenticated"
    )
    call = "Bearer " + token(emu.api_key, emu.api_secret, sip={"call": True})
    status, _, body = twirp(emu.url, "CreateSIPParticipant", b"", auth=call)
    assert status == 501 and error_of(body)["code"] == "unimplemented"
    transfer = proto_sip.TransferSIPParticipantRequest(room_name="r1").SerializeToString()
    assert twirp(emu.url, "TransferSIPParticipant", transfer, auth=call)[0] == 401
    room_admin = "Bearer " + token(
        emu.api_key, emu.api_secret, sip={"call": True}, video={"roomAdmin": True, "room": "r1"}
    )
    assert twirp(emu.url, "TransferSIPParticipant", transfer, auth=room_admin)[0] == 501


def test_access_token_query_parameter_is_accepted(emu):
    query = "?access_token=" + token(emu.api_key, emu.api_secret)
    assert raw(emu.url, "/twirp/livekit.SIP/ListSIPInboundTrunk" + query)[0] == 200


def test_the_request_log_records_every_twirp_call(emu, admin):
    twirp(emu.url, "ListSIPInboundTrunk", b"", auth=admin, content_type="application/json")
    twirp(emu.url, "NoSuchMethod", b"", auth=admin)
    twirp(emu.url, "ListSIPInboundTrunk", b"")
    rows = emu.control.requests()
    assert [(r["method"], r["code"], r["status"]) for r in rows] == [
        ("ListSIPInboundTrunk", "ok", 200),
        ("NoSuchMethod", "bad_route", 404),
        ("ListSIPInboundTrunk", "unauthenticated", 401),
    ]
