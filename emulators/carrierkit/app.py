"""The request pipeline every carrier endpoint goes through, in the real services' order:

body cap -> authentication (the provider's 401) -> faults before the handler (latency, then a
status, a hang or a barrier) -> the handler (its ``ApiError`` is the provider's error body) ->
faults after the handler (``commit_then_drop`` / ``_hang`` / ``_status``, ``malformed_body``)
-> the reply. Every request is a row in the request log, named by its operation
(``CreateTrunk``, ``UpdatePhoneNumber``, …) so fault rules and duplicate counts use one name.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from emulators.livekit.faults import FaultRule, FaultSet
from emulators.livekit.requestlog import Entry, RequestLog

from . import control
from .errors import ApiError

MAX_BODY = 1024 * 1024
MALFORMED_BODY = b'{"sid": "TK'


@dataclass
class Reply:
    """What a handler answers: a status, a JSON body (None: empty) and, for creates, the ID
    of the stored object (logged even when the reply is then dropped)."""

    status: int
    body: Any = None
    created_id: str | None = None
    committed: bool = False


@dataclass
class Call:
    """One parsed request as a handler sees it."""

    request: web.Request
    params: dict[str, str]  # form fields (Twilio) or query parameters
    body: Any  # the decoded JSON body (Telnyx), else None
    principal: str  # who authenticated (an account SID, an API key SID, a key's tail)


Handler = Callable[[Call], Awaitable[Reply]]


class RestEmulator:
    """Base of the Twilio and Telnyx emulators. Subclasses register operations with
    :meth:`op`, and implement ``authenticate``, ``render_error``, ``fault_error``,
    ``parse``, ``state_json`` and ``reset_state``."""

    def __init__(self, *, request_log_size: int, allow_remote_control: bool) -> None:
        self.faults = FaultSet()
        self.requests = RequestLog(request_log_size)
        self.allow_remote_control = allow_remote_control
        self.shutdown = asyncio.Event()
        self.app = web.Application(client_max_size=MAX_BODY + 1)
        control.add_routes(self)

    # -- to implement -------------------------------------------------------------------------
    def authenticate(self, request: web.Request) -> str:
        """The principal, or raise the provider's authentication ``ApiError``."""
        raise NotImplementedError

    def render_error(self, error: ApiError, retry_after: float | None = None) -> web.Response:
        raise NotImplementedError

    def fault_error(self, rule: FaultRule) -> ApiError:
        """The error a ``status``-like fault rule answers with."""
        raise NotImplementedError

    async def parse(self, request: web.Request) -> tuple[dict[str, str], Any]:
        raise NotImplementedError

    def not_found(self, request: web.Request) -> ApiError:
        raise NotImplementedError

    def state_json(self) -> dict[str, Any]:
        raise NotImplementedError

    def reset_state(self) -> None:
        raise NotImplementedError

    def health_json(self) -> dict[str, Any]:
        return {}

    async def close(self) -> None:
        """Nothing to flush after the server stops."""

    # -- routing ------------------------------------------------------------------------------
    def op(self, method: str, path: str, name: str, handler: Handler) -> None:
        async def endpoint(request: web.Request) -> web.StreamResponse:
            return await self.handle(request, name, handler)

        self.app.router.add_route(method, path, endpoint)

    def finish_routes(self) -> None:
        """The provider's 404 for every path no operation serves (registered last)."""

        async def unknown(request: web.Request) -> web.StreamResponse:
            entry = self.requests.start("Unknown", request.headers.get("X-Request-Id", ""))
            try:
                return self._error(entry, self.not_found(request))
            finally:
                self.requests.finish(entry)

        self.app.router.add_route("*", "/{tail:.*}", unknown)

    # -- the pipeline ---------------------------------------------------------------------------
    async def handle(self, request: web.Request, name: str, handler: Handler) -> web.StreamResponse:
        entry = self.requests.start(name, request.headers.get("X-Request-Id", ""))
        try:
            return await self._pipeline(request, name, handler, entry)
        finally:
            self.requests.finish(entry)

    async def _pipeline(
        self, request: web.Request, name: str, handler: Handler, entry: Entry
    ) -> web.StreamResponse:
        if (request.content_length or 0) > MAX_BODY:
            self.requests.outcome(entry, "plain", 413)
            return web.Response(status=413, text="request body too large")
        try:
            principal = self.authenticate(request)
        except ApiError as exc:
            return self._error(entry, exc)
        plan = self.faults.plan(name)
        entry["faults"] = list(plan.fired)
        if plan.latency_ms > 0:
            await asyncio.sleep(plan.latency_ms / 1000)
        if plan.pre is not None:
            early = await self._pre_fault(request, entry, plan.pre)
            if early is not None:
                return early
        error: ApiError | None = None
        reply: Reply | None = None
        try:
            params, body = await self.parse(request)
            reply = await handler(Call(request, params, body, principal))
        except ApiError as exc:
            error = exc
        else:
            entry["committed"] = reply.committed or reply.created_id is not None
            entry["created_id"] = reply.created_id
        if plan.post is not None:
            return await self._post_fault(request, entry, plan.post)
        if error is not None:
            return self._error(entry, error)
        assert reply is not None
        self.requests.outcome(entry, "ok", reply.status)
        if reply.body is None:
            return web.Response(status=reply.status)
        return web.json_response(reply.body, status=reply.status, dumps=_dumps)

    def _error(
        self, entry: Entry, error: ApiError, retry_after: float | None = None
    ) -> web.Response:
        self.requests.outcome(entry, str(error.code), error.status)
        return self.render_error(error, retry_after)

    async def _pre_fault(
        self, request: web.Request, entry: Entry, rule: FaultRule
    ) -> web.StreamResponse | None:
        if rule.action in ("status", "fail_before_commit"):
            return self._error(entry, self.fault_error(rule), rule.retry_after)
        if rule.action == "hang":
            self.requests.outcome(entry, "hang", None, dropped=True)
            await self._hang(request, rule.hang_s)
            return _drop(request)
        if rule.action == "barrier":
            await self.faults.barrier_for(rule).wait(int(rule.parties), float(rule.timeout_s))
        return None

    async def _post_fault(
        self, request: web.Request, entry: Entry, rule: FaultRule
    ) -> web.StreamResponse:
        code = "ok" if entry["committed"] else "fault"
        if rule.action == "commit_then_drop":
            self.requests.outcome(entry, code, None, dropped=True)
            return _drop(request)
        if rule.action == "commit_then_hang":
            self.requests.outcome(entry, code, None, dropped=True)
            await self._hang(request, rule.hang_s)
            return _drop(request)
        if rule.action == "commit_then_status":
            return self._error(entry, self.fault_error(rule), rule.retry_after)
        self.requests.outcome(entry, "malformed_body", 200)
        return web.Response(status=200, body=MALFORMED_BODY, content_type="application/json")

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

    def reset(self) -> None:
        self.reset_state()
        self.requests.clear()
        self.faults.clear()


def _drop(request: web.Request) -> web.Response:
    transport = request.transport
    if transport is not None:
        transport.close()
    return web.Response(status=200)  # never written: the socket is already closed


def _dumps(data: Any) -> str:
    return json.dumps(data, default=str)


def retry_after_header(retry_after: float | None) -> dict[str, str] | None:
    if retry_after is None:
        return None
    value = str(int(retry_after)) if float(retry_after).is_integer() else str(retry_after)
    return {"Retry-After": value}
