"""LiveKitGateway: the synchronous facade, one method per livekit.SIP call."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

import aiohttp
from livekit import api

from telephony.livekit_gateway.errors import (
    LOCAL_RATE_LIMIT,
    CallInfo,
    LiveKitAuthError,
    LiveKitError,
    LiveKitNotFoundError,
    LiveKitNotSent,
    LiveKitPermanentError,
    LiveKitTransientError,
    classify,
    project_auth_sentence,
)
from telephony.livekit_gateway.loop import (
    LOOP_GUARD_SECONDS,
    _gateway_loop,
    _GatewayLoop,
    _last_call,
    _request_info,
)
from telephony.livekit_gateway.specs import (
    RemoteRule,
    RemoteTrunk,
    RuleSpec,
    TrunkSpec,
    _remote_rule,
    _remote_trunk,
    _rule_info,
    _trunk_info,
)
from telephony.ratelimit import Limiter, RateLimited, get_limiter

logger = logging.getLogger(__name__)
T = TypeVar("T")


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
        project: str = "default",
    ) -> None:
        self.url = url
        self.api_key = api_key
        self._api_secret = api_secret
        self.timeout = timeout
        self.limiter = limiter
        self.project = project  # the LiveKit project's name (its circuit, its limiter)

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

    @classmethod
    def for_project(cls, name: str, url: str, key: str, secret: str, timeout: float) -> Any:
        """A project registered in the database (telephony.upstream.gateway_for)."""
        return cls(url, key, secret, timeout, limiter=get_limiter(name), project=name)

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
                    code=LOCAL_RATE_LIMIT,
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
        if isinstance(err, LiveKitAuthError) and self.project != "default":
            err.sentence = project_auth_sentence(self.project)
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


def get_gateway() -> LiveKitGateway:
    """The gateway named by settings.LIVEKIT_GATEWAY (tests swap in fakes this way)."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    cls = import_string(settings.LIVEKIT_GATEWAY)
    return cls.from_settings()
