"""An in-memory stand-in for LiveKitGateway, for unit tests of the reconcile engine.

Acceptance tests use the real emulator over HTTP instead; this fake only keeps the
gateway's contract (dataclasses in, dataclasses out, classified errors) and the two
conflict rules that reconcile depends on.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace
from typing import Any, ClassVar

from telephony.livekit_gateway import (
    CONFLICT_RULE,
    CONFLICT_TRUNK,
    CallInfo,
    LiveKitConflictError,
    LiveKitError,
    LiveKitNotFoundError,
    RemoteRule,
    RemoteTrunk,
    RuleSpec,
    TrunkSpec,
)


class FakeLiveKitGateway:
    _shared: ClassVar[FakeLiveKitGateway | None] = None

    def __init__(self) -> None:
        self.trunks: dict[str, RemoteTrunk] = {}
        self.rules: dict[str, RemoteRule] = {}
        self.calls: list[str] = []
        self._ids = itertools.count(1)
        # method -> list of actions; each action is ("raise", exc) or ("commit_then", exc)
        self.faults: dict[str, list[tuple[str, LiveKitError]]] = {}
        self.before_call: Callable[[str], None] | None = None
        self.last_call = CallInfo()

    # --- test controls --------------------------------------------------------------------

    @classmethod
    def shared(cls) -> FakeLiveKitGateway:
        if cls._shared is None:
            cls._shared = cls()
        return cls._shared

    @classmethod
    def reset(cls) -> None:
        cls._shared = cls()

    @classmethod
    def from_settings(cls) -> FakeLiveKitGateway:
        return cls.shared()

    def fail(self, method: str, exc: LiveKitError, *, times: int = 1, commit: bool = False) -> None:
        """Make the next `times` calls of `method` raise; with commit, after storing."""
        self.faults.setdefault(method, []).extend(
            [("commit_then" if commit else "raise", exc)] * times
        )

    def count(self, method: str) -> int:
        return self.calls.count(method)

    # --- plumbing -------------------------------------------------------------------------

    def _enter(self, method: str) -> str | None:
        self.calls.append(method)
        if self.before_call:
            self.before_call(method)
        queue = self.faults.get(method)
        if not queue:
            return None
        mode, exc = queue.pop(0)
        if mode == "raise":
            raise exc
        self._pending_exc = exc
        return mode

    def _exit(self, mode: str | None) -> None:
        if mode == "commit_then":
            raise self._pending_exc

    def _id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):012d}"

    # --- trunks ---------------------------------------------------------------------------

    def list_inbound_trunks(
        self, *, numbers: Any = (), trunk_ids: Any = (), after_id: str = "", limit: int = 0
    ) -> list[RemoteTrunk]:
        self._exit(self._enter("list_inbound_trunks"))
        out = [
            t
            for t in self.trunks.values()
            if (not trunk_ids or t.trunk_id in trunk_ids)
            and (not numbers or not t.numbers or set(t.numbers) & set(numbers))
            and t.trunk_id > after_id
        ]
        out.sort(key=lambda t: t.trunk_id)
        return out[:limit] if limit else out

    def _check_trunk(self, spec: TrunkSpec, skip: str = "") -> None:
        for other in self.trunks.values():
            if other.trunk_id != skip and set(other.numbers) & set(spec.numbers):
                raise LiveKitConflictError(
                    f'{CONFLICT_TRUNK}: "{other.trunk_id}" and "<new>"', code="invalid_argument"
                )

    def create_inbound_trunk(self, spec: TrunkSpec) -> RemoteTrunk:
        mode = self._enter("create_inbound_trunk")
        self._check_trunk(spec)
        trunk = RemoteTrunk(**spec.__dict__, trunk_id=self._id("ST_"))
        self.trunks[trunk.trunk_id] = trunk
        self._exit(mode)
        return trunk

    def replace_inbound_trunk(self, trunk_id: str, spec: TrunkSpec) -> RemoteTrunk:
        mode = self._enter("replace_inbound_trunk")
        if trunk_id not in self.trunks:
            raise LiveKitNotFoundError("requested sip trunk does not exist", code="not_found")
        self._check_trunk(spec, skip=trunk_id)
        self.trunks[trunk_id] = RemoteTrunk(**spec.__dict__, trunk_id=trunk_id)
        self._exit(mode)
        return self.trunks[trunk_id]

    def delete_trunk(self, trunk_id: str) -> None:
        mode = self._enter("delete_trunk")
        self.trunks.pop(trunk_id, None)
        self._exit(mode)

    def start_create_inbound_trunk(self, spec: TrunkSpec, **_limits: Any) -> _Finished:
        return _Finished(self.create_inbound_trunk, spec)

    # --- rules ----------------------------------------------------------------------------

    def list_dispatch_rules(
        self, *, rule_ids: Any = (), trunk_ids: Any = (), after_id: str = "", limit: int = 0
    ) -> list[RemoteRule]:
        self._exit(self._enter("list_dispatch_rules"))
        out = [
            r
            for r in self.rules.values()
            if (not rule_ids or r.rule_id in rule_ids)
            and (not trunk_ids or not r.trunk_ids or set(r.trunk_ids) & set(trunk_ids))
            and r.rule_id > after_id
        ]
        out.sort(key=lambda r: r.rule_id)
        return out[:limit] if limit else out

    def _check_rule(self, spec: RuleSpec, skip: str = "") -> None:
        for other in self.rules.values():
            if other.rule_id != skip and set(other.trunk_ids) & set(spec.trunk_ids):
                raise LiveKitConflictError(
                    f"{CONFLICT_RULE}, inbound number, number, and PIN combination already "
                    f'exists in dispatch rule "{other.rule_id}"',
                    code="invalid_argument",
                )

    def create_dispatch_rule(self, spec: RuleSpec) -> RemoteRule:
        mode = self._enter("create_dispatch_rule")
        self._check_rule(spec)
        rule = RemoteRule(**spec.__dict__, rule_id=self._id("SDR_"))
        self.rules[rule.rule_id] = rule
        self._exit(mode)
        return rule

    def start_create_dispatch_rule(self, spec: RuleSpec, **_limits: Any) -> _Finished:
        return _Finished(self.create_dispatch_rule, spec)

    def replace_dispatch_rule(self, rule_id: str, spec: RuleSpec) -> RemoteRule:
        mode = self._enter("replace_dispatch_rule")
        if rule_id not in self.rules:
            raise LiveKitNotFoundError("requested sip dispatch rule does not exist")
        self._check_rule(spec, skip=rule_id)
        self.rules[rule_id] = RemoteRule(**spec.__dict__, rule_id=rule_id)
        self._exit(mode)
        return self.rules[rule_id]

    def delete_dispatch_rule(self, rule_id: str) -> None:
        mode = self._enter("delete_dispatch_rule")
        self.rules.pop(rule_id, None)
        self._exit(mode)

    # --- helpers for tests ----------------------------------------------------------------

    def tamper_trunk(self, trunk_id: str, **changes: Any) -> None:
        self.trunks[trunk_id] = replace(self.trunks[trunk_id], **changes)


class _Finished:
    """The fake's PendingCall: the call has already run, in the caller's thread."""

    request_id = ""
    duration_ms = 0

    def __init__(self, method: Callable[[Any], Any], spec: Any) -> None:
        self.value: Any = None
        self.error: LiveKitError | None = None
        try:
            self.value = method(spec)
        except LiveKitError as exc:
            self.error = exc

    def on_done(self, callback: Callable[[], None]) -> None:
        callback()

    def result(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.value
