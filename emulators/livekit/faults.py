"""Scripted faults for the Twirp endpoint, installed through ``POST /_emulator/faults``.

A rule is ``{method (or "*"), action, probability, count, duration_s, ...}``. ``count`` is how
many times it may fire (``null``: unlimited), ``duration_s`` how long it stays
active (``null``: until cleared), counted from installation, or from the first request it
matches when ``window_from`` is ``"first_match"`` (an outage that begins when traffic does,
whatever the load on the caller). Actions, by the phase of the request they act in:

* before the handler: ``latency`` (adds ``latency_ms``; several add up), then at most one of
  ``status`` / ``fail_before_commit`` (answer ``status``+``code`` without storing, optional
  ``retry_after``), ``hang`` (never answer), ``barrier`` (hold until ``parties`` requests have
  arrived, or ``timeout_s`` passed);
* between validation and store: ``toctou_delay`` (``latency_ms``);
* after the handler: ``commit_then_drop`` (close the socket, no response), ``commit_then_hang``,
  ``commit_then_status``, ``malformed_body`` (HTTP 200 with an undecodable body).
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import Any

from .errors import CODE_BY_HTTP_STATUS, HTTP_STATUS_BY_CODE

PRE_TERMINAL = ("status", "fail_before_commit", "hang", "barrier")
POST = ("commit_then_drop", "commit_then_hang", "commit_then_status", "malformed_body")
ACTIONS = ("latency", "toctou_delay", *PRE_TERMINAL, *POST)
DEFAULT_HANG_S = 3600.0


class FaultSpecError(ValueError):
    """A fault rule that cannot be installed; answered as HTTP 400."""


@dataclass
class FaultRule:
    id: int
    method: str
    action: str
    probability: float = 1.0
    count: int | None = None
    duration_s: float | None = None
    window_from: str = "install"
    latency_ms: float = 0.0
    status: int | None = None
    code: str | None = None
    msg: str | None = None
    retry_after: float | None = None
    hang_s: float = DEFAULT_HANG_S
    parties: int = 2
    timeout_s: float = 30.0
    installed_at: float = field(default_factory=time.monotonic)
    first_match_at: float | None = None
    fired: int = 0

    def active(self, now: float) -> bool:
        if self.count is not None and self.fired >= self.count:
            return False
        if self.duration_s is None:
            return True
        if self.window_from == "first_match":
            if self.first_match_at is None:
                self.first_match_at = now
            return now - self.first_match_at < self.duration_s
        return now - self.installed_at < self.duration_s

    def answer(self) -> tuple[int, str, str]:
        """HTTP status, twirp code and message for the status-like actions."""
        status = self.status
        code = self.code
        if status is None and code is None:
            status, code = 503, "unavailable"
        elif status is None:
            status = HTTP_STATUS_BY_CODE.get(str(code), 500)
        elif code is None:
            code = CODE_BY_HTTP_STATUS.get(status, "internal" if status >= 500 else "unknown")
        return int(status), str(code), self.msg or f"emulated fault: {code}"

    def to_json(self) -> dict[str, Any]:
        hidden = ("installed_at", "first_match_at")
        data = {k: v for k, v in self.__dict__.items() if k not in hidden}
        return data


def parse_rule(raw: Any, rule_id: int) -> FaultRule:
    if not isinstance(raw, dict):
        raise FaultSpecError("each rule must be a JSON object")
    action = raw.get("action")
    if action not in ACTIONS:
        raise FaultSpecError(f"unknown action {action!r}; expected one of {', '.join(ACTIONS)}")
    known = set(FaultRule.__dataclass_fields__) - {"id", "installed_at", "first_match_at", "fired"}
    unknown = set(raw) - known
    if unknown:
        raise FaultSpecError(f"unknown fields: {', '.join(sorted(unknown))}")
    values = {k: v for k, v in raw.items() if v is not None}
    values.setdefault("method", "*")
    try:
        rule = FaultRule(id=rule_id, **values)
    except TypeError as exc:
        raise FaultSpecError(str(exc)) from exc
    if not isinstance(rule.method, str) or not 0.0 <= float(rule.probability) <= 1.0:
        raise FaultSpecError("method must be a string and probability within [0, 1]")
    if rule.window_from not in ("install", "first_match"):
        raise FaultSpecError('window_from must be "install" or "first_match"')
    if rule.action == "barrier" and int(rule.parties) < 1:
        raise FaultSpecError("barrier needs parties >= 1")
    return rule


class Barrier:
    """Releases waiting requests in groups of ``parties``."""

    def __init__(self) -> None:
        self.waiting: list[asyncio.Future[None]] = []

    async def wait(self, parties: int, timeout_s: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting.append(future)
        if len(self.waiting) >= parties:
            released, self.waiting = self.waiting, []
            for waiter in released:
                if not waiter.done():
                    waiter.set_result(None)
        try:
            await asyncio.wait_for(asyncio.shield(future), timeout_s)
        except TimeoutError:
            if future in self.waiting:
                self.waiting.remove(future)


@dataclass
class Plan:
    """What the faults decided for one request."""

    latency_ms: float = 0.0
    pre: FaultRule | None = None
    post: FaultRule | None = None
    fired: list[str] = field(default_factory=list)


class FaultSet:
    def __init__(self, rng: random.Random | None = None) -> None:
        self.rules: list[FaultRule] = []
        self._next_id = 1
        self._rng = rng or random.Random()  # noqa: S311 - fault dice, not security
        self.barriers: dict[int, Barrier] = {}

    def install(self, raw_rules: Any) -> list[FaultRule]:
        if not isinstance(raw_rules, list):
            raise FaultSpecError('"rules" must be a list')
        parsed = [parse_rule(raw, self._next_id + i) for i, raw in enumerate(raw_rules)]
        self._next_id += len(parsed)
        self.rules.extend(parsed)
        return parsed

    def clear(self) -> None:
        self.rules.clear()
        for barrier in self.barriers.values():
            for waiter in barrier.waiting:
                if not waiter.done():
                    waiter.set_result(None)
        self.barriers.clear()

    def _fire(self, rule: FaultRule, method: str, now: float) -> bool:
        if rule.method not in ("*", method) or not rule.active(now):
            return False
        if rule.probability < 1.0 and self._rng.random() >= rule.probability:
            return False
        rule.fired += 1
        return True

    def plan(self, method: str) -> Plan:
        """Decide the pre- and post-handler faults for one request (consumes counts)."""
        now = time.monotonic()
        plan = Plan()
        for rule in self.rules:
            if rule.action == "latency" and self._fire(rule, method, now):
                plan.latency_ms += float(rule.latency_ms)
                plan.fired.append("latency")
        for rule in self.rules:
            if rule.action in PRE_TERMINAL and self._fire(rule, method, now):
                plan.pre = rule
                plan.fired.append(rule.action)
                break
        if plan.pre is None or plan.pre.action == "barrier":
            for rule in self.rules:
                if rule.action in POST and self._fire(rule, method, now):
                    plan.post = rule
                    plan.fired.append(rule.action)
                    break
        return plan

    def toctou_delay_ms(self, method: str) -> float:
        now = time.monotonic()
        for rule in self.rules:
            if rule.action == "toctou_delay" and self._fire(rule, method, now):
                return float(rule.latency_ms)
        return 0.0

    def barrier_for(self, rule: FaultRule) -> Barrier:
        return self.barriers.setdefault(rule.id, Barrier())
