"""Fenced writes and upstream calls (design.md §5, decisions/0003, 0012, 0046).

Every write is a compare-and-set on the lease owner, renews the lease (on the database's
clock) and carries its event row in the same transaction; an upstream call starts only
within the renewal window, and the credentials circuit is checked before the first one.
`Fenced` does it for one clinic, one statement per write; `Leases` for a set of clinics
(the batched path), one statement per set: take, renew, lock, release.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from django.db import transaction

from telephony.livekit_gateway import LiveKitAuthError, LiveKitError, LiveKitGateway
from telephony.models import Provisioning, ProvisioningEvent
from telephony.provisioning.circuit import auth_blocked
from telephony.provisioning.lease import (
    lease_expiry,
    release_leases,
    renew_after_seconds,
    renew_window_seconds,
    take_leases,
)
from telephony.provisioning.outcome import busy_delay
from telephony.upstream import project_name

T = TypeVar("T")


class LeaseLost(Exception):
    """Another run took the clinic over: stop without writing anything."""


def event_row(
    clinic_id: Any, generation: int, action: str, outcome: str, detail: str, **kw: Any
) -> ProvisioningEvent:
    """An event row (not saved); every path builds its events here."""
    return ProvisioningEvent(
        clinic_id=clinic_id,
        generation=generation,
        action=action,
        outcome=outcome,
        detail=detail[:2000],
        **kw,
    )


class Fenced:
    def __init__(self, clinic_id: Any, gateway: LiveKitGateway, owner: str) -> None:
        self.clinic_id = clinic_id
        self.gw = gateway
        self.owner = owner
        self.generation = 0
        self._circuit_checked = False
        self._last_ms: int | None = None
        # Fields written with the next fenced write (the working state), and when the lease
        # was last renewed (every fenced write renews it).
        self.pending: dict[str, Any] = {}
        self._renewed_at = -float("inf")
        self._renew_after = renew_after_seconds()

    def save(self, **fields: Any) -> None:
        fields = {**self.pending, **fields}
        fields.setdefault("lease_until", lease_expiry())
        renewing = time.monotonic()
        n = Provisioning.objects.filter(clinic_id=self.clinic_id, lease_owner=self.owner).update(
            **fields
        )
        if n != 1:
            raise LeaseLost
        self.pending = {}
        self._renewed_at = renewing

    def together(self) -> AbstractContextManager[Any]:
        """A write and its event commit together (a batch's wave: already in one commit)."""
        return transaction.atomic()

    def save_done(self, action: str, detail: str, *, timed: bool = True, **fields: Any) -> None:
        """A step's new state and its event in one transaction (one commit)."""
        with self.together():
            self.save(**fields)
            self.insert_event(action, "ok", detail, **(self._timing() if timed else {}))

    def event(self, action: str, outcome: str = "ok", detail: str = "", **kw: Any) -> None:
        """An event on its own: written under the lease fence (which it renews)."""
        with self.together():
            self.save()
            self.insert_event(action, outcome, detail, **kw)

    def call_failed(
        self, action: str, exc: LiveKitError, duration_ms: int, request_id: str
    ) -> None:
        """The event of a call upstream refused or that failed."""
        self.event(action, "error", exc.sentence, duration_ms=duration_ms, request_id=request_id)

    def insert_event(self, action: str, outcome: str, detail: str, **kw: Any) -> None:
        event_row(self.clinic_id, self.generation, action, outcome, detail, **kw).save()

    def _timing(self) -> dict[str, Any]:
        return {"duration_ms": self._last_ms, "request_id": self.gw.last_call.request_id}

    def call(self, action: str, fn: Callable[[], T]) -> T:
        """Renew the lease if due, make one upstream call, and time it for the event log."""
        if self.pending or time.monotonic() - self._renewed_at > self._renew_after:
            self.save()
        if not self._circuit_checked:
            self._circuit_checked = True
            blocked = auth_blocked(project_name(self.gw))
            if blocked:
                raise LiveKitAuthError(blocked, code="circuit_open")
        started = time.monotonic()
        try:
            result = fn()
        except LiveKitError as exc:
            ms = int((time.monotonic() - started) * 1000)
            self.call_failed(action, exc, ms, exc.request_id)
            raise
        self._last_ms = int((time.monotonic() - started) * 1000)
        return result


class Leases:
    """The leases of a set of clinics held by one run (the batched path): the same
    compare-and-set as `Fenced`, on the database's clock, one statement for the whole set.
    `renewed_at` is when this run last renewed them all (its own monotonic clock), so a
    call starts only within the renewal window after it."""

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.window = renew_window_seconds()
        self.renewed_at = -float("inf")

    def take(
        self, ids: list[str], fields: tuple[str, ...], now: Any
    ) -> tuple[dict[str, Any], dict[str, float]]:
        """Take every free lease (in the caller's transaction); the rows now held (with
        these fields), and when to try each clinic another run holds (by `now`, read from
        the database's clock)."""
        started = time.monotonic()
        take_leases(ids, self.owner)
        held: dict[str, Provisioning] = {}
        busy: dict[str, float] = {}
        for prov in Provisioning.objects.filter(clinic_id__in=ids).only(*fields):
            if prov.lease_owner == self.owner:
                held[str(prov.clinic_id)] = prov
            else:
                left = (prov.lease_until - now).total_seconds() if prov.lease_until else 0.0
                busy[str(prov.clinic_id)] = busy_delay(left)
        self.renewed_at = started
        return held, busy

    def due(self) -> bool:
        """Half the renewal window has gone: renew before starting more calls."""
        return time.monotonic() - self.renewed_at > self.window / 2

    def deadline(self) -> float:
        """The latest a call may start (monotonic clock) on the last renewal."""
        return self.renewed_at + self.window

    def renew(self, ids: list[str]) -> set[str]:
        """Renew these leases; the clinics whose lease is still this run's."""
        started = time.monotonic()
        mine = Provisioning.objects.filter(clinic_id__in=ids, lease_owner=self.owner)
        kept = set(ids)
        if mine.update(lease_until=lease_expiry()) != len(ids):
            kept = {str(c) for c in mine.values_list("clinic_id", flat=True)}
        self.renewed_at = started
        return kept

    def locked(self, ids: list[str]) -> dict[str, Provisioning]:
        """Lock the rows whose lease is still this run's (in the caller's transaction): the
        fence for one commit's writes, which renew the leases (`renewed`)."""
        rows = (
            Provisioning.objects.select_for_update()
            .filter(clinic_id__in=ids, lease_owner=self.owner)
            .only("id", "clinic_id", "generation", "attempts", "rate_limited_runs", "lease_owner")
            .order_by("clinic_id")
        )
        return {str(prov.clinic_id): prov for prov in rows}

    def renewed(self, started: float) -> None:
        self.renewed_at = started

    def release(self, ids: list[str]) -> None:
        release_leases(ids, self.owner)
