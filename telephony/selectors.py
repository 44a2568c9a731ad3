"""Reads for the dashboard: recent calls and the go-live checklist (fixed query count)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import F, Q, QuerySet
from django.db.models.fields.tuple_lookups import Tuple, TupleLessThan

from telephony.carrier_readiness import CarrierReadiness, carrier_readiness
from telephony.models import (
    Call,
    PhoneNumber,
    Provisioning,
    Receptionist,
    TestCall,
    TrunkSettings,
)
from tenants.models import Clinic

RECENT_CALLS = 20


@dataclass(frozen=True)
class ChecklistItem:
    key: str
    title: str
    done: bool
    detail: str
    optional: bool = False
    at: datetime | None = None

    @property
    def status(self) -> str:
        return "done" if self.done else ("optional" if self.optional else "todo")

    @property
    def status_label(self) -> str:
        return {"done": "Done", "optional": "Optional", "todo": "To do"}[self.status]

    def as_dict(self) -> dict[str, object]:
        """For the dashboard's status.json (times as text in the current zone)."""
        from tenants.timezones import local_text

        return {
            "key": self.key,
            "title": self.title,
            "status": self.status,
            "status_label": self.status_label,
            "detail": self.detail,
            "at": self.at.isoformat() if self.at else None,
            "at_text": local_text(self.at),
        }


# The call log's order (Call.Meta.ordering), which the `call_log_order` index serves per clinic.
CALL_ORDER = ("-started_at", "-created_at", "-id")
CALL_LOG_PAGE = 50


def recent_calls(*, clinic: Clinic, limit: int = RECENT_CALLS) -> list[Call]:
    """The latest calls, each with `.outcome` (the agent's account, or None)."""
    from telephony.outcomes import attach_outcomes

    return attach_outcomes(clinic, Call.objects.for_clinic(clinic).order_by(*CALL_ORDER)[:limit])


@dataclass(frozen=True)
class CallLogPage:
    calls: list[Call]
    older: int | None  # the cursor of the next (older) page, None on the last
    first: bool  # the newest calls (no cursor given, or one no longer found)


def _row_before(fields: str, values: tuple[object, ...]) -> TupleLessThan:
    """(fields) < (values) as one row comparison, which the index answers as a range."""
    return TupleLessThan(Tuple(*(F(f) for f in fields.split())), values)


def _older_than(rows: QuerySet[Call], cursor: int) -> QuerySet[Call] | None:
    """The calls after the cursor's in the log's order (keyset pagination: no OFFSET, no
    COUNT, the same cost on the thousandth page as on the first). None: no such call."""
    found = rows.filter(pk=cursor).values_list("started_at", "created_at", "id").first()
    if found is None:
        return None
    started, created, pk = found
    if started is not None:
        return rows.filter(_row_before("started_at created_at id", (started, created, pk)))
    # Calls without a start time come first (DESC puts NULLs first), rarely: after one of
    # them come the others of its kind, then every call with a start time.
    return rows.filter(
        Q(started_at__isnull=False)
        | Q(Q(started_at__isnull=True), _row_before("created_at id", (created, pk)))
    )


def call_log_page(*, clinic: Clinic, before: str = "", size: int = CALL_LOG_PAGE) -> CallLogPage:
    """A page of the call log, newest first, each call with `.outcome`; `before` is the
    cursor a previous page gave (the id of its last call). Three queries whatever the page
    or the number of calls: the cursor's call, the page, the outcomes."""
    from telephony.outcomes import attach_outcomes

    rows, first = call_log_rows(clinic=clinic, before=before)
    page = list(rows[: size + 1])
    more = len(page) > size
    calls = attach_outcomes(clinic, page[:size])
    return CallLogPage(calls, calls[-1].pk if more else None, first=first)


def call_log_rows(*, clinic: Clinic, before: str = "") -> tuple[QuerySet[Call], bool]:
    """The call log from the cursor on (or from the newest call), and whether it is from
    the newest."""
    rows: QuerySet[Call] = Call.objects.for_clinic(clinic).order_by(*CALL_ORDER)
    older = _older_than(rows, int(before)) if before.isdigit() and len(before) < 19 else None
    return (rows, True) if older is None else (older, False)


def go_live_checklist(
    *,
    clinic: Clinic,
    numbers: list[PhoneNumber],
    trunk_settings: TrunkSettings,
    agent_config: Receptionist,
    provisioning: Provisioning,
    carrier: CarrierReadiness | None = None,
) -> list[ChecklistItem]:
    """The seven steps from signup to a first real call, from stored facts only."""
    if carrier is None:
        carrier = carrier_readiness(
            clinic=clinic, provisioning=provisioning, trunk_settings=trunk_settings
        )
    return [
        *_setup_steps(numbers, trunk_settings, agent_config, provisioning),
        ChecklistItem(
            "carrier_connected",
            "Your carrier sends calls here",
            carrier.ready,
            carrier.sentence,
        ),
        *_call_steps(clinic),
    ]


def _setup_steps(
    numbers: list[PhoneNumber],
    trunk_settings: TrunkSettings,
    agent_config: Receptionist,
    provisioning: Provisioning,
) -> list[ChecklistItem]:
    carrier = bool(trunk_settings.allowed_addresses or trunk_settings.auth_username)
    agent = bool(agent_config.greeting.strip() and agent_config.instructions.strip())
    active = provisioning.state == Provisioning.State.ACTIVE and provisioning.converged
    return [
        ChecklistItem(
            "numbers",
            "Phone numbers added",
            bool(numbers),
            (f"{len(numbers)} number" + ("s." if len(numbers) != 1 else "."))
            if numbers
            else "Add the numbers callers dial.",
        ),
        ChecklistItem(
            "carrier",
            "Carrier settings",
            carrier,
            "Calls are accepted only from your carrier."
            if carrier
            else "Recommended: accept calls only from your carrier (its addresses or a password).",
            optional=True,
        ),
        ChecklistItem(
            "agent",
            "Receptionist configured",
            agent,
            "Greeting and instructions are set." if agent else "Set a greeting.",
        ),
        ChecklistItem(
            "provisioning",
            "Phone line active",
            active,
            "Your numbers are connected to your receptionist."
            if active
            else "Go live, then wait a few seconds.",
        ),
    ]


def _call_steps(clinic: Clinic) -> list[ChecklistItem]:
    last_test = TestCall.objects.for_clinic(clinic).order_by("-created_at").first()
    first_real = (
        Call.objects.for_clinic(clinic).filter(is_test=False).order_by("created_at").first()
    )
    test_detail = "Run a test call below."
    if last_test is not None:
        test_detail = (
            "The last test call passed."
            if last_test.passed
            else "The last test call found a problem; open Test call to see what to do."
        )
    return [
        ChecklistItem(
            "test_call",
            "Test call passed",
            bool(last_test and last_test.passed),
            test_detail,
            at=last_test.created_at if last_test else None,
        ),
        ChecklistItem(
            "first_call",
            "First real call received",
            first_real is not None,
            "A caller reached your receptionist." if first_real else "Waiting for a caller.",
            at=first_real.created_at if first_real else None,
        ),
    ]
