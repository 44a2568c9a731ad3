"""reconcile_clinic: bring upstream to one clinic's desired state (design.md §5).

A thin adapter over the engine (decisions/0011): the planner (planner.py) decides, the
executor (executor.py) applies with every guarantee of the lease, intents, events and
failure handling. Safe to run any number of times, concurrently and out of order.
"""

from __future__ import annotations

from typing import Any

from telephony.livekit_gateway import LiveKitGateway
from telephony.provisioning.executor import run_clinic
from telephony.provisioning.lease import acquire_lease, renew_window_seconds
from telephony.provisioning.outcome import Result, backoff_seconds, failure_fields

__all__ = [
    "Result",
    "acquire_lease",
    "backoff_seconds",
    "failure_fields",
    "reconcile_clinic",
    "renew_window_seconds",
]


def reconcile_clinic(
    clinic_id: Any,
    *,
    gateway: LiveKitGateway | None = None,
    owner: str | None = None,
    verify: bool = False,
) -> Result:
    """One reconcile run. Never raises LiveKit errors: they become state and a Result.
    `verify` observes every stored object instead of trusting the applied-spec hashes."""
    return run_clinic(clinic_id, gateway=gateway, owner=owner, verify=verify)
