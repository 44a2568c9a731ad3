"""Reads for the dashboard: recent calls and the go-live checklist (fixed query count)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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


def recent_calls(*, clinic: Clinic, limit: int = RECENT_CALLS) -> list[Call]:
    """The latest calls, each with `.outcome` (the agent's account, or None)."""
    from telephony.outcomes import attach_outcomes

    return attach_outcomes(clinic, Call.objects.for_clinic(clinic).order_by("-created_at")[:limit])


def go_live_checklist(
    *,
    clinic: Clinic,
    numbers: list[PhoneNumber],
    trunk_settings: TrunkSettings,
    agent_config: Receptionist,
    provisioning: Provisioning,
) -> list[ChecklistItem]:
    """The six steps from signup to a first real call, from stored facts only."""
    return [
        *_setup_steps(numbers, trunk_settings, agent_config, provisioning),
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
