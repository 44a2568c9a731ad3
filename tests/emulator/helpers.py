"""Small builders and raw-HTTP helpers shared by the emulator tests."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import jwt
from livekit import api
from livekit.protocol import sip as proto_sip

ID_RE = r"[23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz]{12}"


def token(
    key: str,
    secret: str,
    *,
    sip: dict[str, Any] | None = None,
    video: dict[str, Any] | None = None,
    exp_in: float | None = 600,
    algorithm: str = "HS256",
    **extra: Any,
) -> str:
    claims: dict[str, Any] = {"iss": key, "sub": "", "nbf": int(time.time()) - 5}
    if exp_in is not None:
        claims["exp"] = int(time.time() + exp_in)
    claims["sip"] = {"admin": True} if sip is None else sip
    if video is not None:
        claims["video"] = video
    claims.update(extra)
    return jwt.encode(claims, secret, algorithm=algorithm)


def raw(
    url: str,
    path: str,
    body: bytes = b"",
    *,
    method: str = "POST",
    content_type: str | None = "application/protobuf",
    auth: str | None = None,
) -> tuple[int, dict[str, str], bytes]:
    headers = {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if auth is not None:
        headers["Authorization"] = auth
    data = body if method not in ("GET", "HEAD") else None
    request = urllib.request.Request(url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def twirp(
    url: str, rpc: str, body: bytes = b"", **kwargs: Any
) -> tuple[int, dict[str, str], bytes]:
    return raw(url, f"/twirp/livekit.SIP/{rpc}", body, **kwargs)


def error_of(body: bytes) -> dict[str, Any]:
    return dict(json.loads(body))


def inbound(numbers: list[str] | None = None, **fields: Any) -> api.CreateSIPInboundTrunkRequest:
    return api.CreateSIPInboundTrunkRequest(
        trunk=api.SIPInboundTrunkInfo(numbers=numbers or [], **fields)
    )


def individual_rule(
    trunk_ids: list[str] | None = None, prefix: str = "clinic", pin: str = "", **fields: Any
) -> api.CreateSIPDispatchRuleRequest:
    rule = api.SIPDispatchRule(
        dispatch_rule_individual=api.SIPDispatchRuleIndividual(room_prefix=prefix, pin=pin)
    )
    return api.CreateSIPDispatchRuleRequest(
        dispatch_rule=api.SIPDispatchRuleInfo(rule=rule, trunk_ids=trunk_ids or [], **fields)
    )


def direct_rule(
    room: str, trunk_ids: list[str] | None = None, pin: str = "", **fields: Any
) -> api.CreateSIPDispatchRuleRequest:
    rule = api.SIPDispatchRule(
        dispatch_rule_direct=api.SIPDispatchRuleDirect(room_name=room, pin=pin)
    )
    return api.CreateSIPDispatchRuleRequest(
        dispatch_rule=api.SIPDispatchRuleInfo(rule=rule, trunk_ids=trunk_ids or [], **fields)
    )


async def get_inbound(lk: api.LiveKitAPI, trunk_id: str) -> proto_sip.SIPInboundTrunkInfo:
    """GetSIPInboundTrunk has no public wrapper in livekit-api 1.2.2 (livekit-sip.md §8.2)."""
    response = await lk.sip._client.request(
        "SIP",
        "GetSIPInboundTrunk",
        proto_sip.GetSIPInboundTrunkRequest(sip_trunk_id=trunk_id),
        lk.sip._admin_headers(),
        proto_sip.GetSIPInboundTrunkResponse,
    )
    return response.trunk


async def call_sip(lk: api.LiveKitAPI, method: str, request: Any, response_cls: Any) -> Any:
    """Any SIP RPC through the client's own transport and admin token."""
    return await lk.sip._client.request(
        "SIP", method, request, lk.sip._admin_headers(), response_cls
    )
