"""What a clinic's own people see of a move between LiveKit projects, and the confirmation
they give when their carrier is configured by hand (decision 0131).

A move waits for that confirmation once the target has passed its test call: the clinic's
admin points the carrier at the new address, then says so on the dashboard or with
`POST /api/v1/clinics/{slug}/move/carrier-confirmed/`. The move then goes on in a worker:
a last test call in the target, then the source's objects are deleted. A connected carrier
account never waits for a person (telephony/move_carrier.py).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from django.core.exceptions import ValidationError

from telephony.models import PhoneNumber, ProjectMove
from telephony.move_carrier import carrier_automatic
from telephony.moves import confirm_carrier, open_move
from telephony.validators import display_number
from tenants.models import Clinic, User

State = ProjectMove.State


@dataclass(frozen=True)
class MoveStatus:
    """An open move as the clinic sees it: never a project's name, key or URL."""

    state: str
    waiting_for_you: bool  # the clinic's admin must repoint the carrier and confirm
    automatic: bool  # Switchboard repoints the connected carrier itself
    new_sip_uri: str
    old_sip_uri: str
    numbers: tuple[str, ...]
    sentence: str


def _sentence(move: ProjectMove, automatic: bool, numbers: str) -> str:
    if move.state in (State.PROVISIONING, State.VERIFYING):
        return (
            "Your phone line is moving to a new server. We are setting it up and testing it; "
            "your receptionist keeps answering as before. Nothing to do yet."
        )
    if move.state == State.AWAITING_CARRIER and automatic:
        return (
            "Your phone line is moving to a new server. It passed its test call, and we are "
            "updating your carrier account to send calls there. Nothing to do."
        )
    if move.state == State.AWAITING_CARRIER:
        return (
            "Your phone line is moving to a new server, and it passed its test call. Now ask "
            f"whoever manages your phone lines to send calls for {numbers} to the new address "
            "below. Your receptionist keeps answering at the old address until then. Once "
            "it is done, press the button to tell us."
        )
    return (
        "Your carrier sends calls to the new server. We are making a last test call there, "
        "then removing the old address. Nothing else to do."
    )


def move_status(clinic: Clinic, move: ProjectMove | None = None) -> MoveStatus | None:
    """The open move as the clinic sees it; `move`, when given, is the clinic's open move
    (already read), else it is looked up."""
    move = open_move(clinic) if move is None else move
    if move is None or move.state not in ProjectMove.OPEN:
        return None
    automatic = carrier_automatic(clinic)
    numbers = tuple(PhoneNumber.objects.for_clinic(clinic).values_list("e164", flat=True))
    return MoveStatus(
        state=move.state,
        waiting_for_you=move.state == State.AWAITING_CARRIER and not automatic,
        automatic=automatic,
        new_sip_uri=move.target.effective_sip_uri,
        old_sip_uri=move.source.effective_sip_uri,
        numbers=numbers,
        sentence=_sentence(
            move, automatic, ", ".join(display_number(n) for n in numbers) or "your numbers"
        ),
    )


def move_heading(status: MoveStatus) -> str:
    if status.waiting_for_you:
        return "Action needed: your phone line is moving"
    return "Your phone line is moving"


FINISHED: dict[str, tuple[str, str]] = {
    State.DONE: (
        "Your phone line has moved",
        "Your phone line has moved to its new server, and your receptionist answers there. "
        "Nothing else to do.",
    ),
    State.ROLLED_BACK: (
        "Your phone line stays where it was",
        "The move of your phone line was called off. Your receptionist keeps answering at "
        "the address your carrier uses today. Nothing to do.",
    ),
}


def move_status_json(clinic: Clinic) -> dict[str, Any] | None:
    """The move's part of the dashboard's status JSON (tenants.selectors.provisioning_status):
    the open move as the card shows it, else how the clinic's last move ended (the card of a
    page open during the move shows it), None when the clinic never moved. No project's name,
    URL or key, like the card."""
    last = (
        ProjectMove.objects.filter(clinic=clinic)
        .select_related("source", "target")
        .order_by("-created_at", "-pk")
        .first()
    )
    if last is None:
        return None
    status = move_status(clinic, last)
    if status is None:
        heading, sentence = FINISHED[last.state]
        return {"moving": False, "state": last.state, "heading": heading, "sentence": sentence}
    body = {"moving": True, **asdict(status), "heading": move_heading(status)}
    if last.state in (State.PROVISIONING, State.VERIFYING):
        body["new_sip_uri"] = ""  # not before its test call passed: nobody repoints early
    return body


def clinic_confirms_carrier(*, clinic: Clinic, actor: User | None) -> ProjectMove:
    """The clinic's admin says their carrier sends calls to the new address. ValidationError
    (field `move`) when nothing waits for that."""
    move = open_move(clinic)
    if move is None:
        raise ValidationError(
            {"move": "Your phone line is not moving: there is nothing to confirm."}
        )
    if carrier_automatic(clinic):
        raise ValidationError(
            {"move": "Your carrier account is connected: Switchboard updates it itself."}
        )
    if move.state != State.AWAITING_CARRIER:
        raise ValidationError(
            {
                "move": "The new address is not ready for your carrier yet; this page tells "
                "you when it is."
                if move.state in (State.PROVISIONING, State.VERIFYING)
                else "Your confirmation is recorded already."
            }
        )
    return confirm_carrier(move, actor=actor, later=True)
