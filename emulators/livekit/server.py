"""The aiohttp application: the Twirp endpoint and the wiring of the emulator's parts.

Request pipeline for ``/twirp/…``, in LiveKit's order (livekit-sip.md §2.2, §3.2):
body cap (plain 413) -> auth middleware (plain 401) -> Twirp routing (``bad_route``) ->
faults before the handler -> Content-Type (``bad_route``) -> decode (``malformed``) -> grant
check (``unauthenticated``) -> handler -> faults after the handler -> reply in the request's
encoding.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import logging
from pathlib import Path
from typing import Any

from aiohttp import web
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message

from . import control
from .auth import AuthFailure, Claims, extract_token, verify_token
from .config import Config
from .errors import TwirpError, bad_route, permissions_denied
from .faults import FaultRule, FaultSet
from .ids import go_quote
from .persistence import StateWriter, load
from .ratelimit import TokenBucket
from .requestlog import Entry, RequestLog
from .service import METHODS, MethodSpec, ServiceOptions, SipService
from .store import Store
from .webhooks import WebhookSender

log = logging.getLogger("emulators.livekit")
SIP_PREFIX = "/twirp/livekit.SIP/"
MAX_BODY = 10 * 1024 * 1024  # OSS MaxAPIRequestBodySize
JSON = "application/json"
PROTOBUF = "application/protobuf"
MALFORMED_BODY = {PROTOBUF: b"\x0f\xff\xfe not a protobuf", JSON: b'{"sip_trunk_id": '}
_current_entry: contextvars.ContextVar[Entry | None] = contextvars.ContextVar("entry", default=None)


class Emulator:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.keys = {config.api_key: config.api_secret}
        self.store = Store()
        if config.state is not None:
            load(Path(config.state), self.store)
        self.faults = FaultSet()
        self.requests = RequestLog(config.request_log_size)
        self.limit: TokenBucket | None = None
        if config.rate_limit_per_minute > 0:
            self.limit = TokenBucket(config.rate_limit_per_minute, config.rate_limit_burst)
        options = ServiceOptions(
            honour_list_limit=config.honour_list_limit,
            strict_update_conflicts=config.strict_update_conflicts,
            set_timestamps=config.set_timestamps,
        )
        self.service = SipService(self.store, options, self._before_store)
        self.shutdown = asyncio.Event()
        self.webhooks: WebhookSender | None = None
        self.writer: StateWriter | None = None
        self.app = web.Application(client_max_size=MAX_BODY + 1)
        self.app.router.add_route("*", "/twirp/{tail:.*}", self.handle_twirp)
        control.add_routes(self)
        self.app.on_startup.append(self._on_startup)

    async def _on_startup(self, _app: web.Application) -> None:
        if self.config.webhook_url:
            self.webhooks = WebhookSender(
                self.config.webhook_url, self.config.api_key, self.config.api_secret
            )
            self.webhooks.start()
        if self.config.state is not None:
            self.writer = StateWriter(
                Path(self.config.state), self.store, self.config.state_flush_interval
            )
            self.writer.start()

    # -- what the control plane drives (emulators.carrierkit.control) ----------------------
    @property
    def allow_remote_control(self) -> bool:
        return self.config.allow_remote_control

    def health_json(self) -> dict[str, Any]:
        return dict(self.store.counts())

    def state_json(self) -> dict[str, Any]:
        return control.state_json(self.store)

    def reset(self) -> None:
        self.store.clear()
        self.requests.clear()
        self.faults.clear()
        if self.limit is not None:
            self.limit.reset()
        if self.webhooks is not None:
            self.webhooks.deliveries.clear()

    async def close(self) -> None:
        """Flush the state file and deliver queued webhooks (called after the server stops)."""
        self.shutdown.set()
        if self.webhooks is not None:
            await self.webhooks.close()
        if self.writer is not None:
            await self.writer.close()

    async def _before_store(self, method: str) -> None:
        delay_ms = self.faults.toctou_delay_ms(method)
        if delay_ms > 0:
            entry = _current_entry.get()
            if entry is not None:
                entry["faults"].append("toctou_delay")
            await asyncio.sleep(delay_ms / 1000)

    # -- replies ------------------------------------------------------------------------------
    def _plain(self, entry: Entry, status: int, text: str) -> web.Response:
        self.requests.outcome(entry, "plain", status)
        return web.Response(status=status, text=text, content_type="text/plain")

    def _error(
        self, entry: Entry, error: TwirpError, retry_after: float | None = None
    ) -> web.Response:
        self.requests.outcome(entry, error.code, error.status)
        headers = {"Retry-After": _seconds(retry_after)} if retry_after is not None else None
        return web.Response(
            status=error.status, body=error.body(), content_type=JSON, headers=headers
        )

    def _reworded(self, error: TwirpError) -> TwirpError:
        """With --reword-errors, an invalid_argument keeps its code and status but none of
        LiveKit's words: a client that matched on the text would misread it."""
        if not self.config.reword_errors or error.code != "invalid_argument":
            return error
        digest = hashlib.sha256(error.msg.encode()).hexdigest()[:8]
        return TwirpError(error.code, f"request refused by the emulator (reworded, ref {digest})")

    async def _hang(self, request: web.Request, seconds: float) -> None:
        """Answer nothing until ``seconds`` pass, the client leaves or the server stops."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not self.shutdown.is_set():
            remaining = deadline - loop.time()
            transport = request.transport
            if remaining <= 0 or transport is None or transport.is_closing():
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.shutdown.wait(), min(0.25, remaining))

    @staticmethod
    def _drop(request: web.Request) -> web.Response:
        transport = request.transport
        if transport is not None:
            transport.close()
        return web.Response(status=200)  # never written: the socket is already closed

    # -- the Twirp endpoint ---------------------------------------------------------------------
    async def handle_twirp(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        method = path[len(SIP_PREFIX) :] if path.startswith(SIP_PREFIX) else path
        entry = self.requests.start(method, request.headers.get("X-Livekit-Request-Id", ""))
        token = _current_entry.set(entry)
        try:
            return await self._twirp(request, method, entry)
        finally:
            _current_entry.reset(token)
            self.requests.finish(entry)

    def _route(
        self, request: web.Request, method: str, entry: Entry
    ) -> tuple[MethodSpec, Claims | None] | web.StreamResponse:
        """The RPC's spec and the token's claims, or the answer to a request that gets no
        further (too large, a bad token, not a POST, no such RPC)."""
        if (request.content_length or 0) > MAX_BODY:
            return self._plain(entry, 413, "http: request body too large")
        try:
            raw_token = extract_token(
                request.headers.get("Authorization"), request.query.get("access_token")
            )
            claims = verify_token(raw_token, self.keys) if raw_token else None
        except AuthFailure as exc:
            return self._plain(entry, 401, str(exc))
        if request.method != "POST":
            msg = f"unsupported method {go_quote(request.method)} (only POST is allowed)"
            return self._error(entry, bad_route(msg, request.method, request.path))
        spec = METHODS.get(method) if request.path.startswith(SIP_PREFIX) else None
        if spec is None:
            msg = f"no handler for path {go_quote(request.path)}"
            return self._error(entry, bad_route(msg, request.method, request.path))
        return spec, claims

    async def _twirp(self, request: web.Request, method: str, entry: Entry) -> web.StreamResponse:
        routed = self._route(request, method, entry)
        if isinstance(routed, web.StreamResponse):
            return routed
        spec, claims = routed
        if self.limit is not None:
            wait = self.limit.take()
            if wait is not None:
                entry["faults"] = ["rate_limit"]
                throttled = TwirpError(
                    "resource_exhausted", "rate limit exceeded: too many requests"
                )
                return self._error(entry, throttled, self.limit.retry_after(wait))
        plan = self.faults.plan(method)
        entry["faults"] = list(plan.fired)
        if plan.latency_ms > 0:
            await asyncio.sleep(plan.latency_ms / 1000)
        if plan.pre is not None:
            early = await self._pre_fault(request, entry, plan.pre)
            if early is not None:
                return early

        raw_type = request.headers.get("Content-Type", "")
        encoding = raw_type.split(";", 1)[0].strip().lower()
        if encoding not in (JSON, PROTOBUF):
            msg = f"unexpected Content-Type: {go_quote(raw_type)}"
            return self._error(entry, bad_route(msg, request.method, request.path))
        body = await _read_body(request)
        if body is None:
            return self._plain(entry, 413, "http: request body too large")
        try:
            message = _decode(body, encoding, spec.request)
            _check_grant(spec.grant, claims, message)
            reply = await self.service.handle(method, message)
        except TwirpError as exc:
            error: TwirpError | None = self._reworded(exc)
            reply = None
        else:
            error = None
            assert reply is not None
            entry["committed"] = method.startswith(("Create", "Update", "Delete"))
            if method.startswith("Create"):
                entry["created_id"] = _object_id(reply)
        if plan.post is not None:
            return await self._post_fault(request, entry, plan.post, encoding)
        if error is not None:
            return self._error(entry, error)
        assert reply is not None
        self.requests.outcome(entry, "ok", 200)
        return web.Response(status=200, body=_encode(reply, encoding), content_type=encoding)

    async def _pre_fault(
        self, request: web.Request, entry: Entry, rule: FaultRule
    ) -> web.StreamResponse | None:
        if rule.action in ("status", "fail_before_commit"):
            status, code, msg = rule.answer()
            error = TwirpError(code, msg)
            response = self._error(entry, error, rule.retry_after)
            response.set_status(status)
            entry["status"] = status
            return response
        if rule.action == "hang":
            self.requests.outcome(entry, "hang", None, dropped=True)
            await self._hang(request, rule.hang_s)
            return self._drop(request)
        if rule.action == "barrier":
            await self.faults.barrier_for(rule).wait(int(rule.parties), float(rule.timeout_s))
        return None

    async def _post_fault(
        self, request: web.Request, entry: Entry, rule: FaultRule, encoding: str
    ) -> web.StreamResponse:
        code = "ok" if entry["committed"] or entry["created_id"] else "fault"
        if rule.action == "commit_then_drop":
            self.requests.outcome(entry, code, None, dropped=True)
            return self._drop(request)
        if rule.action == "commit_then_hang":
            self.requests.outcome(entry, code, None, dropped=True)
            await self._hang(request, rule.hang_s)
            return self._drop(request)
        if rule.action == "commit_then_status":
            status, twirp_code, msg = rule.answer()
            response = self._error(entry, TwirpError(twirp_code, msg), rule.retry_after)
            response.set_status(status)
            entry["status"] = status
            return response
        self.requests.outcome(entry, "malformed_body", 200)
        return web.Response(status=200, body=MALFORMED_BODY[encoding], content_type=encoding)


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


async def _read_body(request: web.Request) -> bytes | None:
    """The whole body, or None if it passes the 10 MiB cap (chunked bodies included)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(256 * 1024)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)


def _decode(body: bytes, encoding: str, cls: type[Message]) -> Message:
    message = cls()
    if not body:
        return message  # an empty body is an empty message
    if encoding == PROTOBUF:
        try:
            message.ParseFromString(body)
        except (DecodeError, RuntimeError, ValueError) as exc:
            raise TwirpError("malformed", "the protobuf request could not be decoded") from exc
        return message
    try:
        json_format.Parse(body.decode("utf-8"), message, ignore_unknown_fields=True)
    except (json_format.ParseError, UnicodeDecodeError, ValueError, TypeError) as exc:
        raise TwirpError("malformed", "the json request could not be decoded") from exc
    return message


def _encode(message: Message, encoding: str) -> bytes:
    if encoding == PROTOBUF:
        return message.SerializeToString()
    return json_format.MessageToJson(
        message,
        preserving_proto_field_name=True,
        always_print_fields_with_no_presence=True,
        indent=None,
    ).encode()


def _check_grant(grant: str, claims: Claims | None, message: Any) -> None:
    """EnsureSIPAdminPermission / EnsureSIPCallPermission (+ room admin for transfers)."""
    if claims is None:
        raise permissions_denied()
    if grant == "admin" and not claims.sip_admin:
        raise permissions_denied()
    if grant in ("call", "transfer") and not claims.sip_call:
        raise permissions_denied()
    if grant == "transfer" and not (claims.room_admin and claims.room == message.room_name):
        raise permissions_denied()


def _object_id(reply: Message) -> str | None:
    for name in ("sip_trunk_id", "sip_dispatch_rule_id"):
        value = getattr(reply, name, None)
        if value:
            return str(value)
    return None
