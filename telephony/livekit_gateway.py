"""The thin LiveKit SIP client: the only module that imports livekit.api.

Each method maps onto one `livekit.SIP` Twirp call, is bounded by asyncio.wait_for
(livekit-api applies no timeout of its own, see shared/livekit-sip.md §2.4), runs with
failover off (the SDK's replays would be creates we never hear of), and classifies every
failure as transient (retry with backoff) or permanent (a human must act). It knows nothing
about Django models: it takes and returns small frozen dataclasses.

The calls run on one asyncio loop per process, in a daemon thread, over one pooled aiohttp
session (`_GatewayLoop`); callers block on the result. That makes the facade cheap per call
and safe to use from many threads at once, and a forked child builds its own loop.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import contextvars
import json
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Generic, TypeVar

import aiohttp
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from livekit import api

from telephony.ratelimit import Limiter, RateLimited, get_limiter

logger = logging.getLogger(__name__)

T = TypeVar("T")

CONFLICT_TRUNK = "Conflicting inbound SIP Trunks"
CONFLICT_RULE = "Dispatch rule for the same trunk"

# Twirp codes whose outcome is unknown or that clear by themselves: retry.
_TRANSIENT_CODES = {
    "unavailable",
    "resource_exhausted",
    "internal",
    "unknown",
    "deadline_exceeded",
    "canceled",
    "aborted",
    "dataloss",
}


# --- Errors -------------------------------------------------------------------------------


class LiveKitError(Exception):
    """Base of every gateway failure. `sentence` is safe to show to a person."""

    permanent = False

    def __init__(
        self,
        sentence: str,
        *,
        code: str = "",
        status: int | None = None,
        retry_after: float | None = None,
        request_id: str = "",
    ) -> None:
        super().__init__(sentence)
        self.sentence = sentence
        self.code = code
        self.status = status
        self.retry_after = retry_after
        self.request_id = request_id


class LiveKitTransientError(LiveKitError):
    """Connection errors, timeouts, 408, 429, 5xx, malformed replies: try again later."""


class LiveKitNotSent(LiveKitTransientError):
    """A call that waited for its turn past its start deadline: it was never sent."""


class LiveKitPermanentError(LiveKitError):
    """Bad requests and refusals: retrying the same call cannot help."""

    permanent = True


class LiveKitAuthError(LiveKitPermanentError):
    """LiveKit refused the platform's credentials (401) or grant (403)."""


class LiveKitConflictError(LiveKitPermanentError):
    """invalid_argument because another trunk or rule already holds the same key."""


class LiveKitNotFoundError(LiveKitPermanentError):
    """The object does not exist (not_found)."""


# --- Data ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrunkSpec:
    """The inbound trunk Switchboard wants LiveKit to hold."""

    name: str
    metadata: str
    numbers: tuple[str, ...]
    allowed_addresses: tuple[str, ...] = ()
    auth_username: str = ""
    auth_password: str = field(default="", repr=False)
    krisp_enabled: bool = False


@dataclass(frozen=True)
class RemoteTrunk(TrunkSpec):
    trunk_id: str = ""
    # Not part of what Switchboard writes, but call matching needs it (test-call dry runs).
    allowed_numbers: tuple[str, ...] = ()

    def as_spec(self) -> TrunkSpec:
        return TrunkSpec(
            name=self.name,
            metadata=self.metadata,
            numbers=self.numbers,
            allowed_addresses=self.allowed_addresses,
            auth_username=self.auth_username,
            auth_password=self.auth_password,
            krisp_enabled=self.krisp_enabled,
        )


@dataclass(frozen=True)
class AgentDispatch:
    agent_name: str
    metadata: str


@dataclass(frozen=True)
class RuleSpec:
    """An individual-room dispatch rule with explicit agent dispatch."""

    name: str
    metadata: str
    trunk_ids: tuple[str, ...]
    room_prefix: str
    hide_phone_number: bool
    agents: tuple[AgentDispatch, ...]
    attributes: tuple[tuple[str, str], ...] = ()
    pin: str = ""
    numbers: tuple[str, ...] = ()
    inbound_numbers: tuple[str, ...] = ()
    rule_type: str = "individual"


@dataclass(frozen=True)
class RemoteRule(RuleSpec):
    rule_id: str = ""
    # Room naming details of rules Switchboard did not write (for test-call dry runs).
    room_name: str = ""  # direct rules
    randomize: bool = False  # callee rules
    no_randomness: bool = False  # individual rules

    def as_spec(self) -> RuleSpec:
        return RuleSpec(
            name=self.name,
            metadata=self.metadata,
            trunk_ids=self.trunk_ids,
            room_prefix=self.room_prefix,
            hide_phone_number=self.hide_phone_number,
            agents=self.agents,
            attributes=self.attributes,
            pin=self.pin,
            numbers=self.numbers,
            inbound_numbers=self.inbound_numbers,
            rule_type=self.rule_type,
        )


@dataclass
class CallInfo:
    """What the transport saw of the last call: for events and Retry-After."""

    request_id: str = ""
    retry_after: float | None = None
    status: int | None = None


_last_call: contextvars.ContextVar[CallInfo | None] = contextvars.ContextVar(
    "livekit_last_call", default=None
)
# The CallInfo of the request a coroutine on the gateway loop is making (each call runs in
# a task of its own, with its own copy of the context, so concurrent calls never mix).
_request_info: contextvars.ContextVar[CallInfo | None] = contextvars.ContextVar(
    "livekit_request_info", default=None
)


def parse_metadata(metadata: str) -> dict[str, Any]:
    try:
        value = json.loads(metadata) if metadata else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


# --- Conversions --------------------------------------------------------------------------


def _trunk_info(spec: TrunkSpec) -> api.SIPInboundTrunkInfo:
    return api.SIPInboundTrunkInfo(
        name=spec.name,
        metadata=spec.metadata,
        numbers=list(spec.numbers),
        allowed_addresses=list(spec.allowed_addresses),
        auth_username=spec.auth_username,
        auth_password=spec.auth_password,
        krisp_enabled=spec.krisp_enabled,
    )


def _remote_trunk(info: Any) -> RemoteTrunk:
    return RemoteTrunk(
        trunk_id=info.sip_trunk_id,
        name=info.name,
        metadata=info.metadata,
        numbers=tuple(info.numbers),
        allowed_addresses=tuple(info.allowed_addresses),
        auth_username=info.auth_username,
        auth_password=info.auth_password,
        krisp_enabled=info.krisp_enabled,
        allowed_numbers=tuple(info.allowed_numbers),
    )


def _rule_info(spec: RuleSpec) -> api.SIPDispatchRuleInfo:
    if spec.rule_type != "individual":
        raise ValueError(f"unsupported rule type {spec.rule_type!r}")
    rule = api.SIPDispatchRule(
        dispatch_rule_individual=api.SIPDispatchRuleIndividual(
            room_prefix=spec.room_prefix, pin=spec.pin
        )
    )
    return api.SIPDispatchRuleInfo(
        rule=rule,
        name=spec.name,
        metadata=spec.metadata,
        trunk_ids=list(spec.trunk_ids),
        hide_phone_number=spec.hide_phone_number,
        attributes=dict(spec.attributes),
        numbers=list(spec.numbers),
        inbound_numbers=list(spec.inbound_numbers),
        room_config=api.RoomConfiguration(
            agents=[
                api.RoomAgentDispatch(agent_name=a.agent_name, metadata=a.metadata)
                for a in spec.agents
            ]
        ),
    )


def _remote_rule(info: Any) -> RemoteRule:
    kind = info.rule.WhichOneof("rule") or ""
    prefix, pin, rule_type = "", "", kind.removeprefix("dispatch_rule_")
    room_name, randomize, no_randomness = "", False, False
    if kind == "dispatch_rule_individual":
        prefix = info.rule.dispatch_rule_individual.room_prefix
        pin = info.rule.dispatch_rule_individual.pin
        no_randomness = info.rule.dispatch_rule_individual.no_randomness
    elif kind == "dispatch_rule_callee":
        prefix = info.rule.dispatch_rule_callee.room_prefix
        pin = info.rule.dispatch_rule_callee.pin
        randomize = info.rule.dispatch_rule_callee.randomize
    elif kind == "dispatch_rule_direct":
        pin = info.rule.dispatch_rule_direct.pin
        room_name = info.rule.dispatch_rule_direct.room_name
    return RemoteRule(
        rule_id=info.sip_dispatch_rule_id,
        name=info.name,
        metadata=info.metadata,
        trunk_ids=tuple(info.trunk_ids),
        room_prefix=prefix,
        hide_phone_number=info.hide_phone_number,
        agents=tuple(
            AgentDispatch(agent_name=a.agent_name, metadata=a.metadata)
            for a in info.room_config.agents
        ),
        attributes=tuple(sorted(info.attributes.items())),
        pin=pin,
        numbers=tuple(info.numbers),
        inbound_numbers=tuple(info.inbound_numbers),
        rule_type=rule_type,
        room_name=room_name,
        randomize=randomize,
        no_randomness=no_randomness,
    )


# --- Error classification -----------------------------------------------------------------


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def classify(exc: BaseException, info: CallInfo | None = None) -> LiveKitError:
    """Map anything a LiveKit call raised to a transient or permanent LiveKitError."""
    info = info or CallInfo()
    common: dict[str, Any] = {"request_id": info.request_id, "retry_after": info.retry_after}
    if isinstance(exc, LiveKitError):
        return exc
    if isinstance(exc, api.ServerError):
        code, status, msg = exc.code, exc.status, exc.message
        common.update(code=code, status=status)
        if status == 401 or code == "unauthenticated":
            common["code"] = "unauthenticated"
            return LiveKitAuthError(
                "LiveKit rejected Switchboard's API credentials. An operator must check "
                "LIVEKIT_API_KEY and LIVEKIT_API_SECRET.",
                **common,
            )
        if status == 403 or code == "permission_denied":
            common["code"] = "permission_denied"
            return LiveKitAuthError(
                "LiveKit refused the request: the API key lacks the SIP admin permission.",
                **common,
            )
        if code == "not_found":
            return LiveKitNotFoundError("The LiveKit object no longer exists.", **common)
        if status in (408, 429) or status >= 500 or code in _TRANSIENT_CODES:
            return LiveKitTransientError(
                f"LiveKit is temporarily unavailable ({status} {code}); retrying.", **common
            )
        if code == "invalid_argument" and (CONFLICT_TRUNK in msg or CONFLICT_RULE in msg):
            return LiveKitConflictError(msg[:500], **common)
        return LiveKitPermanentError(
            f"LiveKit rejected the request ({code}): {msg[:300]}", **common
        )
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return LiveKitTransientError("LiveKit did not answer in time; retrying.", **common)
    if isinstance(exc, (aiohttp.ClientError, ConnectionError, OSError)):
        return LiveKitTransientError("LiveKit could not be reached; retrying.", **common)
    if isinstance(exc, DecodeError):
        return LiveKitTransientError("LiveKit sent a reply that could not be read.", **common)
    return LiveKitTransientError(f"Unexpected error talking to LiveKit ({type(exc).__name__}).")


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


# --- The gateway --------------------------------------------------------------------------


def _same(value: T) -> T:
    return value


class PendingCall(Generic[T]):
    """A LiveKit call started by LiveKitGateway.start_*: `result()` waits for its outcome.

    The outcome is the sync method's: the parsed reply, or a classified LiveKitError (a
    429 also pauses every process, as for any call). `on_done` callbacks run once the call
    has ended, in whichever thread ended it.
    """

    def __init__(
        self,
        gateway: LiveKitGateway,
        method: str,
        parse: Callable[[Any], T],
        info: CallInfo,
        *,
        error: LiveKitError | None = None,
        not_after: float | None = None,
    ) -> None:
        self._gateway = gateway
        self._not_after = not_after
        self._method = method
        self._parse = parse
        self.info = info
        self.error = error
        self.future: concurrent.futures.Future[Any] | None = None
        self.started = time.monotonic()
        self.ended: float | None = None if error is None else self.started
        self._callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    @property
    def request_id(self) -> str:
        return self.info.request_id

    @property
    def duration_ms(self) -> int:
        return int(((self.ended or time.monotonic()) - self.started) * 1000)

    def on_done(self, callback: Callable[[], None]) -> None:
        with self._lock:
            if self.ended is None:
                self._callbacks.append(callback)
                return
        callback()

    def finished(self, _future: object = None) -> None:
        with self._lock:
            self.ended = time.monotonic()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()

    def result(self) -> T:
        if self.error is not None:
            raise self.error
        assert self.future is not None
        try:
            guard = self._gateway.timeout + LOOP_GUARD_SECONDS
            if self._not_after is not None:  # it may wait for its turn until then
                guard += max(0.0, self._not_after - self.started)
            try:
                value = self.future.result(timeout=guard)
            except concurrent.futures.TimeoutError:
                raise TimeoutError("the LiveKit gateway loop did not answer in time") from None
            finally:
                if not self.future.done():
                    self.future.cancel()  # soft time limit, interrupt: do not leave it running
        except BaseException as exc:
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            self.error = self._gateway._failed(self._method, exc, self.info, self.started)
            raise self.error from None
        return self._parse(value)


class LiveKitGateway:
    """Synchronous facade over livekit-api for Celery workers and Django views.

    Thread-safe: any number of threads (Celery's threads pool, a web server's threads) may
    call one gateway at once; the calls run concurrently on the process's gateway loop.
    """

    def __init__(
        self,
        url: str,
        api_key: str,
        api_secret: str,
        timeout: float = 10.0,
        limiter: Limiter | None = None,
    ) -> None:
        self.url = url
        self.api_key = api_key
        self._api_secret = api_secret
        self.timeout = timeout
        self.limiter = limiter

    @classmethod
    def from_settings(cls) -> LiveKitGateway:
        from django.conf import settings

        return cls(
            settings.LIVEKIT_URL,
            settings.LIVEKIT_API_KEY,
            settings.LIVEKIT_API_SECRET,
            settings.LIVEKIT_TIMEOUT_SECONDS,
            limiter=get_limiter(),
        )

    def __repr__(self) -> str:  # never shows the secret
        return f"LiveKitGateway(url={self.url!r}, api_key={self.api_key!r})"

    @property
    def last_call(self) -> CallInfo:
        return _last_call.get() or CallInfo()

    def _run(self, method: str, fn: Callable[[api.LiveKitAPI], Awaitable[T]]) -> T:
        return self._start(method, fn, _same).result()

    def _start(
        self,
        method: str,
        fn: Callable[[api.LiveKitAPI], Awaitable[Any]],
        parse: Callable[[Any], T],
        *,
        in_flight: int | None = None,
        not_after: float | None = None,
    ) -> PendingCall[T]:
        """Take a rate-limit token (waiting in this thread), then start the call on the
        process's loop without waiting for it.

        With `in_flight`, the call waits on the loop for its turn among the process's calls
        started with that limit, so that a finished call's turn passes to the next one at
        once; one that gets its turn after `not_after` (time.monotonic) is not sent and
        fails with LiveKitNotSent."""
        info = CallInfo()
        _last_call.set(info)
        if self.limiter is not None:
            try:
                self.limiter.acquire()
            except RateLimited as exc:
                refused = LiveKitTransientError(
                    "Switchboard is pacing its calls to LiveKit (API rate limit); retrying.",
                    code="local_rate_limit",
                    retry_after=exc.wait,
                )
                return PendingCall(self, method, parse, info, error=refused)
        pending = PendingCall(self, method, parse, info, not_after=not_after)
        try:
            loop = _gateway_loop()
            if threading.current_thread() is loop.thread:
                raise RuntimeError("the sync LiveKit gateway cannot be called from its own loop")
            pending.future = loop.submit(self._call(fn, info, loop, in_flight, not_after))
        except BaseException as exc:
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            pending.error = self._failed(method, exc, info, pending.started)
        else:
            pending.future.add_done_callback(pending.finished)
        return pending

    def _failed(
        self, method: str, exc: BaseException, info: CallInfo, started: float
    ) -> LiveKitError:
        err = classify(exc, info)
        if isinstance(err, LiveKitNotSent):
            return err
        if err.status == 429 and self.limiter is not None:
            # Honour LiveKit's Retry-After for every process, not just this call.
            self.limiter.block_for(err.retry_after or 1.0)
        logger.warning(
            "livekit %s failed: %s status=%s code=%s request_id=%s in %.0f ms",
            method,
            type(err).__name__,
            err.status,
            err.code,
            info.request_id,
            (time.monotonic() - started) * 1000,
        )
        return err

    async def _call(
        self,
        fn: Callable[[api.LiveKitAPI], Awaitable[T]],
        info: CallInfo,
        loop: _GatewayLoop,
        in_flight: int | None = None,
        not_after: float | None = None,
    ) -> T:
        """Runs on the gateway loop, in a task of its own (its own context for the trace)."""
        _request_info.set(info)
        if in_flight is None:
            return await asyncio.wait_for(fn(loop.client(self)), timeout=self.timeout)
        async with loop.turns(in_flight):
            if not_after is not None and time.monotonic() > not_after:
                raise LiveKitNotSent("The call could not start in time; it was not sent.")
            return await asyncio.wait_for(fn(loop.client(self)), timeout=self.timeout)

    # Reference: https://docs.livekit.io/sip/api/#listsipinboundtrunk
    def list_inbound_trunks(
        self,
        *,
        numbers: Sequence[str] = (),
        trunk_ids: Sequence[str] = (),
        after_id: str = "",
        limit: int = 0,
    ) -> list[RemoteTrunk]:
        req = api.ListSIPInboundTrunkRequest(numbers=list(numbers), trunk_ids=list(trunk_ids))
        if after_id or limit:
            req.page.after_id = after_id
            req.page.limit = limit
        resp = self._run("ListSIPInboundTrunk", lambda lk: lk.sip.list_inbound_trunk(req))
        # OSS omits missing IDs; Cloud may return empty placeholders. Drop those.
        return [_remote_trunk(t) for t in resp.items if t.sip_trunk_id]

    # Reference: https://docs.livekit.io/sip/api/#createsipinboundtrunk
    def create_inbound_trunk(self, spec: TrunkSpec) -> RemoteTrunk:
        return self.start_create_inbound_trunk(spec).result()

    def start_create_inbound_trunk(
        self, spec: TrunkSpec, *, in_flight: int | None = None, not_after: float | None = None
    ) -> PendingCall[RemoteTrunk]:
        """create_inbound_trunk without waiting for LiveKit's answer (batches; see _start)."""
        req = api.CreateSIPInboundTrunkRequest(trunk=_trunk_info(spec))
        return self._start(
            "CreateSIPInboundTrunk",
            lambda lk: lk.sip.create_inbound_trunk(req),
            _remote_trunk,
            in_flight=in_flight,
            not_after=not_after,
        )

    # Reference: https://docs.livekit.io/sip/api/#updatesipinboundtrunk (replace arm)
    def replace_inbound_trunk(self, trunk_id: str, spec: TrunkSpec) -> RemoteTrunk:
        info = _trunk_info(spec)
        out = self._run(
            "UpdateSIPInboundTrunk", lambda lk: lk.sip.update_inbound_trunk(trunk_id, info)
        )
        return _remote_trunk(out)

    # Reference: https://docs.livekit.io/sip/api/#deletesiptrunk
    def delete_trunk(self, trunk_id: str) -> None:
        req = api.DeleteSIPTrunkRequest(sip_trunk_id=trunk_id)
        try:
            self._run("DeleteSIPTrunk", lambda lk: lk.sip.delete_trunk(req))
        except LiveKitNotFoundError:
            return

    # Reference: https://docs.livekit.io/sip/api/#listsipdispatchrule
    def list_dispatch_rules(
        self,
        *,
        rule_ids: Sequence[str] = (),
        trunk_ids: Sequence[str] = (),
        after_id: str = "",
        limit: int = 0,
    ) -> list[RemoteRule]:
        req = api.ListSIPDispatchRuleRequest(
            dispatch_rule_ids=list(rule_ids), trunk_ids=list(trunk_ids)
        )
        if after_id or limit:
            req.page.after_id = after_id
            req.page.limit = limit
        resp = self._run("ListSIPDispatchRule", lambda lk: lk.sip.list_dispatch_rule(req))
        return [_remote_rule(r) for r in resp.items if r.sip_dispatch_rule_id]

    # Reference: https://docs.livekit.io/sip/api/#createsipdispatchrule
    def create_dispatch_rule(self, spec: RuleSpec) -> RemoteRule:
        return self.start_create_dispatch_rule(spec).result()

    def start_create_dispatch_rule(
        self, spec: RuleSpec, *, in_flight: int | None = None, not_after: float | None = None
    ) -> PendingCall[RemoteRule]:
        """create_dispatch_rule without waiting for LiveKit's answer (batches; see _start)."""
        req = api.CreateSIPDispatchRuleRequest(dispatch_rule=_rule_info(spec))
        return self._start(
            "CreateSIPDispatchRule",
            lambda lk: lk.sip.create_dispatch_rule(req),
            _remote_rule,
            in_flight=in_flight,
            not_after=not_after,
        )

    # Reference: https://docs.livekit.io/sip/api/#updatesipdispatchrule (replace arm)
    def replace_dispatch_rule(self, rule_id: str, spec: RuleSpec) -> RemoteRule:
        info = _rule_info(spec)
        out = self._run(
            "UpdateSIPDispatchRule", lambda lk: lk.sip.update_dispatch_rule(rule_id, info)
        )
        return _remote_rule(out)

    # Reference: https://docs.livekit.io/sip/api/#deletesipdispatchrule
    def delete_dispatch_rule(self, rule_id: str) -> None:
        req = api.DeleteSIPDispatchRuleRequest(sip_dispatch_rule_id=rule_id)
        try:
            self._run("DeleteSIPDispatchRule", lambda lk: lk.sip.delete_dispatch_rule(req))
        except LiveKitNotFoundError:
            return

    # Not a LiveKit API: Switchboard's emulator's call simulation (docs/emulator.md). It
    # evaluates a call as LiveKit would and, with --webhook-url, sends the call's webhooks.
    def simulate_call(self, *, caller: str, called: str) -> dict[str, Any]:
        async def post() -> dict[str, Any]:
            timeout = aiohttp.ClientTimeout(total=self.timeout)
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.post(
                    f"{self.url.rstrip('/')}/_emulator/calls", json={"from": caller, "to": called}
                ) as resp,
            ):
                if resp.status != 200:
                    raise LiveKitPermanentError(
                        f"The emulator refused the simulated call (HTTP {resp.status}).",
                        status=resp.status,
                    )
                body = await resp.json(content_type=None)
            if not isinstance(body, dict):
                raise LiveKitTransientError("The emulator sent a reply that could not be read.")
            return body

        try:
            return asyncio.run(post())
        except LiveKitError:
            raise
        except (ValueError, TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise classify(exc) from None


# --- Webhooks -----------------------------------------------------------------------------


class WebhookRejected(Exception):
    """A webhook that is not provably LiveKit's: unsigned, wrongly signed, stale, or unreadable."""

    def __init__(self, reason: str, *, status: int = 401) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class WebhookRoom:
    sid: str
    name: str
    created_at: float | None  # unix seconds


@dataclass(frozen=True)
class WebhookParticipant:
    sid: str
    identity: str
    name: str
    kind: str  # "SIP", "AGENT", "STANDARD", ...
    attributes: dict[str, str]
    joined_at: float | None


@dataclass(frozen=True)
class WebhookEvent:
    id: str
    event: str
    created_at: float | None
    room: WebhookRoom | None
    participant: WebhookParticipant | None


def _seconds(ms: int, s: int) -> float | None:
    if ms:
        return ms / 1000
    return float(s) if s else None


def _webhook_event(message: Any) -> WebhookEvent:
    room = None
    if message.HasField("room"):
        r = message.room
        room = WebhookRoom(r.sid, r.name, _seconds(r.creation_time_ms, r.creation_time))
    person = None
    if message.HasField("participant"):
        p = message.participant
        person = WebhookParticipant(
            sid=p.sid,
            identity=p.identity,
            name=p.name,
            kind=api.ParticipantInfo.Kind.Name(p.kind) if p.kind else "STANDARD",
            attributes=dict(p.attributes),
            joined_at=_seconds(p.joined_at_ms, p.joined_at),
        )
    return WebhookEvent(message.id, message.event, float(message.created_at) or None, room, person)


# Reference: https://docs.livekit.io/home/server/webhooks/#receiving-webhooks
def verify_webhook(body: str, authorization: str, *, api_key: str, api_secret: str) -> WebhookEvent:
    """Check LiveKit's signature (a JWT over the body's SHA-256, HS256 with the API secret,
    `exp` required) and return the event. Expired tokens (LiveKit signs for five minutes)
    are rejected, so a captured webhook cannot be replayed later."""
    if not authorization:
        raise WebhookRejected("missing Authorization header")
    verifier = api.TokenVerifier(api_key, api_secret)
    try:
        verifier.verify(authorization)
    except Exception as exc:  # PyJWT raises a family of errors; all mean "not LiveKit's"
        raise WebhookRejected(f"bad signature token ({type(exc).__name__})") from None
    try:
        message = api.WebhookReceiver(verifier).receive(body, authorization)
    except json_format.ParseError:
        raise WebhookRejected("signed body is not a LiveKit webhook event", status=400) from None
    except Exception:  # no body hash in the token, or it does not match the body
        raise WebhookRejected("body does not match its signature") from None
    return _webhook_event(message)


def get_gateway() -> LiveKitGateway:
    """The gateway named by settings.LIVEKIT_GATEWAY (tests swap in fakes this way)."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    cls = import_string(settings.LIVEKIT_GATEWAY)
    return cls.from_settings()
