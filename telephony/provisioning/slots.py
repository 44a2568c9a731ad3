"""Batch calls in flight per worker process: at most PROVISIONING_BATCH_IN_FLIGHT, oldest
batch first (decisions/0010)."""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from django.conf import settings

from telephony.livekit_gateway import LOCAL_RATE_LIMIT, LiveKitError, LiveKitNotSent, PendingCall


class _Keyed(Protocol):
    clinic_id: str


T = TypeVar("T", bound=_Keyed)


class Slots:
    """The process's batch calls in flight: at most `size`, shared by every batch the
    process runs, granted oldest batch first.

    First come, first served would keep every batch of a bulk go-live in step: all of them
    would finish their trunk creates together and record them together, while nothing is
    in flight. Oldest first lets a batch finish (record its trunks, create its rules) while
    the younger ones are still calling, so the calls and the database work overlap, and the
    first clinics go live early instead of all at the end.
    """

    def __init__(self, size: int) -> None:
        self.free = size
        # Waiters, oldest batch first: (batch, ticket, event); a freed slot is handed to the
        # first of them directly (one wake-up per slot, not one per waiter).
        self._waiting: list[tuple[int, int, threading.Event]] = []
        self._granted: set[int] = set()
        self._tickets = itertools.count()
        self._lock = threading.Lock()

    def take(self, batch: int, deadline: float) -> bool:
        """A slot for a call of `batch` that must start by `deadline` (False: too late)."""
        with self._lock:
            if self.free and not self._waiting:
                if time.monotonic() > deadline:
                    return False
                self.free -= 1
                return True
            ticket, event = next(self._tickets), threading.Event()
            heapq.heappush(self._waiting, (batch, ticket, event))
        event.wait(max(0.0, deadline - time.monotonic()))
        with self._lock:
            if ticket in self._granted:
                self._granted.discard(ticket)
                if time.monotonic() <= deadline:
                    return True
                self._hand_on()  # granted too late: pass the slot on
                return False
            self._waiting = [w for w in self._waiting if w[1] != ticket]
            heapq.heapify(self._waiting)
            return False

    def release(self) -> None:
        with self._lock:
            self._hand_on()

    def _hand_on(self) -> None:
        if self._waiting:
            _batch, ticket, event = heapq.heappop(self._waiting)
            self._granted.add(ticket)
            event.set()
        else:
            self.free += 1


_slots: Slots | None = None
_slots_key: tuple[int, int] = (0, 0)
_slots_lock = threading.Lock()
batch_numbers = itertools.count()


def call_slots() -> Slots:
    """Calls started and not yet ended: the ones in flight, plus a few waiting on the
    gateway's loop for their turn, so that a finished call's turn passes on at once
    instead of after a round trip through this thread."""
    global _slots, _slots_key
    key = (os.getpid(), settings.PROVISIONING_BATCH_IN_FLIGHT)
    with _slots_lock:
        if _slots is None or _slots_key != key:
            _slots = Slots(key[1] + max(1, key[1] // 2))
            _slots_key = key
        return _slots


def _forget_slots_in_child() -> None:
    # Calls in flight in the parent are not the child's, and the lock may be held.
    global _slots, _slots_lock
    _slots_lock = threading.Lock()
    _slots = None


os.register_at_fork(after_in_child=_forget_slots_in_child)


def settle(started: list[tuple[Any, PendingCall[Any]]]) -> None:
    """Wait for calls already started (a bug is propagating: no call may outlive the
    leases, which are released next)."""
    for _item, call in started:
        with contextlib.suppress(BaseException):
            call.result()


@dataclass(frozen=True)
class Outcome:
    """How one call of a batch ended."""

    value: Any = None
    error: LiveKitError | None = None
    duration_ms: int = 0
    request_id: str = ""
    deferred: bool = False  # never sent: the batch ran out of time for it


DEFERRED = Outcome(deferred=True)


def wave(
    pending: list[T],
    start: Callable[[T, float], PendingCall[Any]],
    deadline: float,
    outcomes: dict[str, Outcome],
    *,
    batch: int,
    window: float,
) -> tuple[list[T], float]:
    """Start what the slots allow by `deadline` and collect the outcomes (keyed by the
    item's `clinic_id`); return the calls to try again, and how long the rate limiter asks
    to wait first."""
    slots = call_slots()
    started: list[tuple[T, PendingCall[Any]]] = []
    later: list[T] = []
    try:
        for item in pending:
            if not slots.take(batch, deadline):
                later.append(item)
                continue
            try:
                call = start(item, deadline)
            except BaseException:
                slots.release()
                raise
            call.on_done(slots.release)
            started.append((item, call))
    except BaseException:
        settle(started)
        raise
    wait = 0.0
    for item, call in started:
        key = item.clinic_id
        try:
            value = call.result()
        except LiveKitNotSent:
            later.append(item)  # its turn came too late: renew, then try again
            continue
        except LiveKitError as exc:
            if exc.code == LOCAL_RATE_LIMIT and (exc.retry_after or 0.0) <= window / 2:
                later.append(item)
                wait = max(wait, exc.retry_after or 0.0)
                continue
            request_id = exc.request_id or call.request_id
            outcomes[key] = Outcome(None, exc, call.duration_ms, request_id)
            continue
        outcomes[key] = Outcome(value, None, call.duration_ms, call.request_id)
    return later, wait
