"""The staff console's mutating actions: who each applies to and the service that does it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Q

from telephony import services
from telephony.models import Provisioning
from tenants.models import Clinic, User


@dataclass(frozen=True)
class ConsoleAction:
    """A mutating action: who it applies to, what it does, and the service that does it."""

    name: str
    label: str
    explanation: str
    eligible: Q
    run: Callable[[Clinic, User], None]


def _reprovision(clinic: Clinic, user: User) -> None:
    services.provisioning_reprovision(clinic=clinic, actor=user)


def _retry(clinic: Clinic, user: User) -> None:
    services.provisioning_retry(clinic=clinic, actor=user)


def _suspend(clinic: Clinic, user: User) -> None:
    services.clinic_suspend(clinic=clinic, actor=user)


def _resume(clinic: Clinic, user: User) -> None:
    services.clinic_resume(clinic=clinic, actor=user)


def _offboard(clinic: Clinic, user: User) -> None:
    services.clinic_offboard(clinic=clinic, actor=user)


ACTIONS: dict[str, ConsoleAction] = {
    a.name: a
    for a in (
        ConsoleAction(
            "reprovision",
            "Re-provision now",
            "Reconciles now and verifies: LiveKit's trunk and rule are read back and "
            "repaired if anyone changed or deleted them. Safe to repeat.",
            ~Q(state=Clinic.State.DRAFT),
            _reprovision,
        ),
        ConsoleAction(
            "retry",
            "Retry failed provisioning",
            "Clears the failure and the attempt count and reconciles now (for a retrying "
            "clinic: now instead of at the next backoff).",
            Q(provisioning__state__in=[Provisioning.State.FAILED, Provisioning.State.RETRYING]),
            _retry,
        ),
        ConsoleAction(
            "suspend",
            "Suspend",
            "Deletes the dispatch rule so calls stop reaching the receptionist. The trunk, "
            "numbers, settings and history are kept; Resume brings calls back.",
            Q(state=Clinic.State.LIVE),
            _suspend,
        ),
        ConsoleAction(
            "resume",
            "Resume",
            "Recreates the dispatch rule of a suspended clinic so calls flow again.",
            Q(state=Clinic.State.SUSPENDED),
            _resume,
        ),
        ConsoleAction(
            "offboard",
            "Offboard",
            "Deletes the dispatch rule, then the trunk, then releases the clinic's numbers "
            "for other clinics. Members and history are kept. This cannot be undone here.",
            ~Q(state=Clinic.State.OFFBOARDED),
            _offboard,
        ),
    )
}

# A bulk action handles at most this many clinics per request (filter first). It keeps the
# request short and the confirmation form under DATA_UPLOAD_MAX_NUMBER_FIELDS.
BULK_LIMIT = 500
# The bulk dry run reads LiveKit for each clinic (up to four list calls each).
BULK_PLAN_LIMIT = 25
