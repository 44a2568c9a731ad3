"""What the clinic's pages say, in the words of the person running the clinic.

The engine speaks LiveKit (trunks, dispatch rules, twirp codes); a clinic's office manager
should not have to. Each function here turns a stored fact into a sentence for her; the
technical original stays available under the pages' "Advanced / for your IT person"
disclosure (docs/decisions/0041).
"""

from __future__ import annotations

import re
from typing import Any

from telephony.models import Provisioning, ProvisioningEvent
from telephony.validators import display_number

State = Provisioning.State
ERROR = ProvisioningEvent.Outcome.ERROR

# Codes that mean the platform's own credentials were refused: nothing the clinic can do.
_PLATFORM_CODES = frozenset({"unauthenticated", "permission_denied", "circuit_open"})


def plain_problem(prov: Provisioning) -> str:
    """Why the phone line is not working, and what to do, without the engine's words."""
    if not prov.last_error:
        return ""
    if prov.state == State.RETRYING:
        return (
            "Our phone service did not answer just now. Nothing is lost: we keep trying by "
            "ourselves, and this page updates when it works."
        )
    if prov.last_error_code.startswith("carrier_"):
        return _carrier_problem(prov.last_error_code)
    if prov.last_error_code in _PLATFORM_CODES:
        return (
            "Our phone service refused our connection. The problem is on our side; your "
            "settings are kept, and calls start as soon as we have fixed it."
        )
    if prov.last_error_code == "invalid_argument" or "Conflict" in prov.last_error_code:
        return (
            "The phone service did not accept your settings. Often one of your numbers is "
            "already set up for someone else. Check your numbers, then press Retry now; if it "
            "happens again, show the details under Advanced to your IT person or to us."
        )
    return (
        "Setting up your phone line did not work. Press Retry now; if it keeps failing, "
        "show the details under Advanced to your IT person or to us."
    )


def _carrier_problem(code: str) -> str:
    """A failure at the clinic's own carrier account (telephony/provisioning/carrier_gateway)."""
    if code in ("carrier_credentials", "carrier_circuit_open"):
        return (
            "Your carrier no longer accepts the saved credentials. Paste new ones on the "
            "carrier step; setting up continues by itself."
        )
    if code == "carrier_conflict":
        return (
            "One of your numbers already sends its calls to something else in your carrier "
            "account, and Switchboard never takes a number over. Free it there, or remove it "
            "here, then press Retry now. The details under Advanced name it."
        )
    if code == "carrier_number":
        return (
            "One of your numbers cannot take calls from your carrier account (it is not in "
            "the account, or cannot take voice calls). Remove it here, then press Retry now."
        )
    return (
        "Setting up your carrier account did not work. Press Retry now; if it keeps failing, "
        "show the details under Advanced to your IT person or to us."
    )


_NUMBER = re.compile(r"\+[0-9]{6,16}")


def _numbers_in(text: str) -> str:
    return _NUMBER.sub(lambda m: display_number(m.group(0)), text)


def _requested(detail: str) -> str:
    reason = detail.strip()
    if reason == "go live":
        return "Going live was requested."
    if reason.startswith("number ") and reason.endswith(" added"):
        return f"Number {_numbers_in(reason[7:-6])} was added."
    if reason.startswith("number ") and reason.endswith(" removed"):
        return f"Number {_numbers_in(reason[7:-8])} was removed."
    if reason == "carrier settings changed":
        return "Your carrier settings were changed."
    if reason.startswith("agent settings changed"):
        return "Your receptionist's settings were changed."
    if reason == "offboard":
        return "The clinic was offboarded."
    if reason == "suspend":
        return "Calls were paused by our support team."
    if reason == "resume":
        return "Calls were resumed by our support team."
    if reason.startswith("drift"):
        return "A change made outside Switchboard was found; it is being put right."
    if reason == "re-provision requested":
        return "Our support team asked for your phone line to be set up again."
    return "Your phone line is being updated."


# action -> (what it means when it worked, what was being done when it failed)
_STEPS: dict[str, tuple[str, str]] = {
    "observe_trunk": ("Your numbers' connection was checked.", "Checking your numbers"),
    "create_trunk": (
        "Your numbers were connected to the phone service.",
        "Connecting your numbers",
    ),
    "adopt_trunk": (
        "Your numbers' connection, made by an earlier try, was picked up.",
        "Picking up your numbers' connection",
    ),
    "update_trunk": ("Your numbers' connection was updated.", "Updating your numbers"),
    "delete_trunk": ("Your numbers' connection was removed.", "Removing your numbers"),
    "observe_rule": ("Your call routing was checked.", "Checking your call routing"),
    "create_rule": (
        "Calls were routed to your receptionist.",
        "Routing calls to your receptionist",
    ),
    "adopt_rule": (
        "Call routing made by an earlier try was picked up.",
        "Picking up your call routing",
    ),
    "update_rule": ("Your call routing was updated.", "Updating your call routing"),
    "delete_rule": ("Your call routing was removed.", "Removing your call routing"),
    "converged": ("Your phone line is up to date.", "Finishing"),
    "drift_repaired": (
        "Something changed outside Switchboard; it was put right.",
        "Putting right a change made outside Switchboard",
    ),
    "drift_detected": ("A change made outside Switchboard was found.", "Checking for changes"),
    "orphan_deleted": ("A leftover connection was cleaned up.", "Cleaning up"),
}


def event_sentence(action: str, outcome: str, detail: str) -> str:
    """One event of the provisioning log as a sentence."""
    if action == "requested":
        return _requested(detail)
    if action == "retry_requested":
        return "Someone pressed Retry now."
    done, doing = _STEPS.get(action, ("Your phone line was updated.", "Updating your phone line"))
    if outcome == ERROR:
        return f"{doing} did not work; see Advanced for the details."
    if outcome == ProvisioningEvent.Outcome.SKIPPED:
        return f"{doing}: nothing to do."
    return done


def event_dict(event: ProvisioningEvent, at_text: str) -> dict[str, Any]:
    return {
        "at": event.at.isoformat(),
        "at_text": at_text,
        "sentence": event_sentence(event.action, event.outcome, event.detail),
        "action": event.action,
        "outcome": event.outcome,
        "detail": event.detail,
    }


def test_call_sentence(
    *, number: str, outcome: str, passed: bool, clinic_live: bool, line: str
) -> str:
    """A test call's result for one number, in one sentence."""
    shown = display_number(number)
    if passed:
        return f"A call to {shown} now reaches your receptionist, {line}."
    if not clinic_live:
        return f"A call to {shown} does not reach your receptionist yet: press Go live first."
    if outcome == "no_trunk":
        return (
            f"A call to {shown} does not reach your receptionist yet: the number is still "
            "being connected. Try again in a minute."
        )
    if outcome != "dispatch":
        return (
            f"A call to {shown} from this caller is turned away by your carrier settings "
            "(the addresses or the password they ask for)."
        )
    return (
        f"A call to {shown} reaches your phone line, but it is still being updated with your "
        "latest settings. Try again in a minute."
    )


def receptionist_line(*, clinic_name: str, language: str, label: str = "") -> str:
    """What the receptionist answering a number is called: "Bright Smile English line"."""
    if label:
        return f"{label} line"
    return f"{clinic_name} {language} line"
