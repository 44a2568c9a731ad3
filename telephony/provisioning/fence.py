"""One clinic's fenced writes and upstream calls (design.md §5, decisions/0003, 0012).

Every write is a compare-and-set on the lease owner, renews the lease (on the database's
clock) and carries its event row in the same transaction; an upstream call starts only
within the renewal window, and the credentials circuit is checked before the first one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import transaction

from telephony.livekit_gateway import LiveKitAuthError, LiveKitError, LiveKitGateway
from telephony.models import Provisioning, ProvisioningEvent
from telephony.provisioning.circuit import auth_blocked
from telephony.provisioning.lease import lease_expiry, renew_after_seconds

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

    def save_done(self, action: str, detail: str, *, timed: bool = True, **fields: Any) -> None:
        """A step's new state and its event in one transaction (one commit)."""
        with transaction.atomic():
            self.save(**fields)
            self.insert_event(action, "ok", detail, **(self._timing() if timed else {}))

    def event(self, action: str, outcome: str = "ok", detail: str = "", **kw: Any) -> None:
        """An event on its own: written under the lease fence (which it renews)."""
        with transaction.atomic():
            self.save()
            self.insert_event(action, outcome, detail, **kw)

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
            blocked = auth_blocked()
            if blocked:
                raise LiveKitAuthError(blocked, code="circuit_open")
        started = time.monotonic()
        try:
            result = fn()
        except LiveKitError as exc:
            self.event(
                action,
                "error",
                exc.sentence,
                duration_ms=int((time.monotonic() - started) * 1000),
                request_id=exc.request_id,
            )
            raise
        self._last_ms = int((time.monotonic() - started) * 1000)
        return result
