"""How a run ends: converged, or failed and classified. Written once for every path."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from telephony.livekit_gateway import LOCAL_RATE_LIMIT, LiveKitAuthError, LiveKitError
from telephony.models import Provisioning
from telephony.provisioning.circuit import open_circuit

logger = logging.getLogger(__name__)
State = Provisioning.State


@dataclass(frozen=True)
class Result:
    """What a run did. `retry_in` asks the caller to run again after that many seconds."""

    outcome: str  # converged | busy | retry | failed | noop
    retry_in: float | None = None
    detail: str = ""


def backoff_seconds(attempt: int, retry_after: float | None = None) -> float:
    """Exponential backoff with full jitter, never earlier than LiveKit's Retry-After."""
    cap = settings.PROVISIONING_BACKOFF_MAX_SECONDS
    ceiling = min(cap, settings.PROVISIONING_BACKOFF_BASE_SECONDS * (2 ** max(0, attempt - 1)))
    delay = random.uniform(0, ceiling)  # noqa: S311 (jitter, not cryptography)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


def busy_delay(lease_left: float) -> float:
    """When to try a clinic whose lease another run holds: after it, with jitter."""
    return max(0.0, lease_left) + random.uniform(0.1, 1.0)  # noqa: S311


def settled(prov: Provisioning) -> bool:
    """Converged in a resting state: nothing to do without verification."""
    return prov.converged and prov.state in (State.ACTIVE, State.DEPROVISIONED, State.NEW)


def working_state(desired: Any) -> str:
    """The state while a run works towards `desired`."""
    return State.PROVISIONING if desired.trunk_wanted else State.DEPROVISIONING


def convergence(desired: Any, now: Any) -> tuple[dict[str, Any], str]:
    """The fields of a clinic converged on `desired`, and the event's detail."""
    final = State.ACTIVE if desired.trunk_wanted else State.DEPROVISIONED
    return converged_fields(desired.generation, final, now), f"state {final}"


def converged_fields(generation: int, final: str, now: Any) -> dict[str, Any]:
    """The fields of a converged clinic: every convergence field reset here, and only here;
    the lease is released in the same write."""
    return {
        "observed_generation": generation,
        "state": final,
        "attempts": 0,
        "rate_limited_runs": 0,
        "last_error": "",
        "last_error_code": "",
        "next_attempt_at": None,
        "converged_at": now,
        "last_synced_at": now,
        "lease_owner": "",
        "lease_until": None,
    }


def rate_limited(exc: LiveKitError) -> bool:
    """Upstream (LiveKit, or the clinic's carrier) refused the call for its rate limit (429),
    or our limiter for it did not send the call: nothing was done upstream and nothing is
    wrong with the clinic (decision 0160)."""
    return exc.status == 429 or exc.code in (LOCAL_RATE_LIMIT, "carrier_rate_limit")


def failure_fields(
    attempts: int, exc: LiveKitError, rate_limited_runs: int | None = None
) -> tuple[dict[str, Any], Result]:
    """The provisioning fields for a failed run (attempt number `attempts`), and its Result.

    Permanent errors, and transient ones past PROVISIONING_MAX_ATTEMPTS, end in FAILED with
    a sentence and wait for Retry; the rest wait a jittered backoff in RETRYING. Given
    `rate_limited_runs` (this run's number among the clinic's rate-limited runs), a
    rate-limited failure spends no attempt: it waits for Retry-After (at least) and fails
    only past PROVISIONING_MAX_RATE_LIMITED_RUNS (decision 0160).
    """
    if rate_limited_runs is not None and rate_limited(exc):
        return _rate_limited_fields(rate_limited_runs, exc)
    fields: dict[str, Any] = {
        "attempts": attempts,
        "last_error_code": exc.code or type(exc).__name__,
    }
    if exc.permanent or attempts >= settings.PROVISIONING_MAX_ATTEMPTS:
        sentence = exc.sentence
        if not exc.permanent:
            reason = exc.sentence.removesuffix("; retrying.").removesuffix(".")
            sentence = (
                f"Provisioning failed after {attempts} attempts: {reason}. "
                "Press Retry once LiveKit is reachable again."
            )
        fields.update(state=State.FAILED, last_error=sentence, next_attempt_at=None)
        return fields, Result("failed", detail=sentence)
    delay = backoff_seconds(attempts, exc.retry_after)
    fields.update(
        state=State.RETRYING,
        last_error=exc.sentence,
        next_attempt_at=timezone.now() + timedelta(seconds=delay),
    )
    return fields, Result("retry", retry_in=delay, detail=exc.sentence)


def _rate_limited_fields(runs: int, exc: LiveKitError) -> tuple[dict[str, Any], Result]:
    """A run LiveKit's rate limit ended: `attempts` is left as it was."""
    fields: dict[str, Any] = {
        "rate_limited_runs": runs,
        "last_error_code": exc.code or "rate_limited",
    }
    limit = settings.PROVISIONING_MAX_RATE_LIMITED_RUNS
    if runs >= limit:
        sentence = (
            f"LiveKit refused Switchboard's calls for its API rate limit in {runs} runs. "
            "Press Retry once the LiveKit project's limit allows more requests (or lower "
            "the project's request rate)."
        )
        fields.update(state=State.FAILED, last_error=sentence, next_attempt_at=None)
        return fields, Result("failed", detail=sentence)
    delay = backoff_seconds(runs, exc.retry_after)
    fields.update(
        state=State.RETRYING,
        last_error=exc.sentence,
        next_attempt_at=timezone.now() + timedelta(seconds=delay),
    )
    return fields, Result("retry", retry_in=delay, detail=exc.sentence)


class Circuit:
    """Opens the credentials circuit of the run's LiveKit project at most once per run (or
    batch)."""

    def __init__(self, project: str = "default") -> None:
        self.opened = False
        self.project = project

    def note(self, exc: LiveKitError) -> None:
        if isinstance(exc, LiveKitAuthError) and exc.code != "circuit_open" and not self.opened:
            self.opened = True
            open_circuit(exc.sentence, self.project)


def failed(
    clinic_id: Any, attempts: int, exc: LiveKitError, rate_limited_runs: int | None = None
) -> tuple[dict[str, Any], Result]:
    """failure_fields, logged the same way for every path."""
    fields, result = failure_fields(attempts, exc, rate_limited_runs)
    logger.info("reconcile %s: %s (%s)", clinic_id, result.outcome, exc.sentence)
    return fields, result
