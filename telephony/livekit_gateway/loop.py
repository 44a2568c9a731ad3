"""One asyncio loop per process, in a daemon thread, with one pooled aiohttp session."""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import contextvars
import os
import threading
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, TypeVar

import aiohttp
from livekit import api

from telephony.livekit_gateway.errors import CallInfo, _retry_after

if TYPE_CHECKING:
    from telephony.livekit_gateway.gateway import LiveKitGateway

T = TypeVar("T")


_last_call: contextvars.ContextVar[CallInfo | None] = contextvars.ContextVar(
    "livekit_last_call", default=None
)
# The CallInfo of the request a coroutine on the gateway loop is making (each call runs in
# a task of its own, with its own copy of the context, so concurrent calls never mix).
_request_info: contextvars.ContextVar[CallInfo | None] = contextvars.ContextVar(
    "livekit_request_info", default=None
)


# --- The event loop ----------------------------------------------------------------------

# How long a caller waits beyond the call's own timeout before it gives up on the loop
# (which only happens if the loop thread is stuck; the call itself is bounded by wait_for).
LOOP_GUARD_SECONDS = 5.0
# Connections kept open to LiveKit per process (calls beyond it wait, inside their timeout).
POOL_SIZE = 100


async def _on_request_start(_s: Any, _c: Any, params: aiohttp.TraceRequestStartParams) -> None:
    info = _request_info.get()
    if info is not None:
        info.request_id = params.headers.get("X-Livekit-Request-Id", "")


async def _on_request_end(_s: Any, _c: Any, params: aiohttp.TraceRequestEndParams) -> None:
    info = _request_info.get()
    if info is not None:
        info.status = params.response.status
        info.retry_after = _retry_after(params.response.headers.get("Retry-After"))


class _GatewayLoop:
    """One asyncio loop in a daemon thread per process, with one pooled aiohttp session.

    `asyncio.run` per call paid for a new loop, a new session and a new TCP connection on
    every LiveKit call (about 11 ms of CPU on the development machine); here calls from any
    number of threads share the loop and reuse keep-alive connections. Each process makes
    its own on first use: a forked child never touches its parent's loop or sockets (see
    `_after_fork_in_child`).
    """

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._clients: dict[tuple[str, str, str], api.LiveKitAPI] = {}
        self._turns: dict[int, asyncio.Semaphore] = {}
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self._serve, name=f"livekit-gateway-{self.pid}", daemon=True
        )
        self.thread.start()
        self.session: aiohttp.ClientSession = self.submit(self._open()).result(timeout=10)

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    async def _open(self) -> aiohttp.ClientSession:
        trace = aiohttp.TraceConfig()
        trace.on_request_start.append(_on_request_start)
        trace.on_request_end.append(_on_request_end)
        # No session timeout: every call is bounded by asyncio.wait_for in LiveKitGateway.
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=POOL_SIZE),
            trace_configs=[trace],
            timeout=aiohttp.ClientTimeout(total=None),
        )

    def turns(self, size: int) -> asyncio.Semaphore:
        """The turns of the calls started with an in-flight limit of `size`. Loop only."""
        gate = self._turns.get(size)
        if gate is None:
            gate = self._turns[size] = asyncio.Semaphore(size)
        return gate

    def client(self, gateway: LiveKitGateway) -> api.LiveKitAPI:
        """The livekit-api client for this gateway's URL and credentials, on the pooled
        session (made once: it holds no per-call state). Loop thread only."""
        key = (gateway.url, gateway.api_key, gateway._api_secret)
        lk = self._clients.get(key)
        if lk is None:
            lk = api.LiveKitAPI(*key, session=self.session, failover=False)
            self._clients[key] = lk
        return lk

    def submit(self, coro: Awaitable[T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)  # type: ignore[arg-type]

    def close(self) -> None:
        if self.loop.is_closed():
            return
        with contextlib.suppress(Exception):  # shutting down: nothing left to report to
            self.submit(self.session.close()).result(timeout=5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        if not self.thread.is_alive():
            self.loop.close()


_loop: _GatewayLoop | None = None
_loop_lock = threading.Lock()
# Loops inherited through fork: kept referenced (never closed, never used) so that garbage
# collection does not try to close the parent's sockets or warn about an unclosed session.
_inherited: list[_GatewayLoop] = []


def _gateway_loop() -> _GatewayLoop:
    global _loop
    current = _loop
    if current is not None and current.pid == os.getpid():
        return current
    with _loop_lock:
        if _loop is not None and _loop.pid != os.getpid():
            _inherited.append(_loop)
            _loop = None
        if _loop is None:
            _loop = _GatewayLoop()
        return _loop


def _after_fork_in_child() -> None:
    global _loop, _loop_lock
    # The loop thread does not exist in the child, and the lock may have been held by a
    # parent thread at the moment of the fork.
    _loop_lock = threading.Lock()
    if _loop is not None:
        _inherited.append(_loop)
        _loop = None


def close_gateway_loop() -> None:
    """Close this process's loop and its connections (at exit; tests)."""
    global _loop
    with _loop_lock:
        current, _loop = _loop, None
    if current is not None and current.pid == os.getpid():
        current.close()


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(close_gateway_loop)
