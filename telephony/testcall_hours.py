"""For the test call: who answers a number's calls now, and who while the clinic is closed.

The decision is the agent's at call time (decision 0090): the config API's call-time part
(frontdesk.config.call_time) says whether the line is open now (the clinic's hours, or its
location's), and what it does when closed. A line that hands its calls to an after-hours
receptionist keeps the call in its own room: the agent fetches the other receptionist's
settings and answers with them (agent/worker.py), so the room is the line's either way.
"""

from __future__ import annotations

from typing import Any

from frontdesk.config import call_time
from telephony.models import Receptionist


def who_answers(receptionist: Receptionist, room: str) -> dict[str, Any]:
    """NumberResult's fields for now and after hours, for a call landing in `room`."""
    payload = call_time(receptionist).payload
    after = payload["after_hours"]
    target = after.get("route_to") if after["action"] == "route" else None
    after_id = target["id"] if target else receptionist.pk
    after_name = target["name"] if target else receptionist.name
    open_now = bool(payload["open_now"])
    return {
        "open_now": open_now,
        "answers_now": receptionist.pk if open_now else after_id,
        "answers_now_name": receptionist.name if open_now else after_name,
        "after_hours_action": after["action"],
        "after_hours_receptionist": after_id,
        "after_hours_name": after_name,
        "after_hours_room": room,
        "assigned_name": receptionist.name,
    }


ACTION_WORDS = {
    "message": "takes a message",
    "emergency": "gives your emergency number, then offers to take a message",
}


def hours_sentence(r: Any) -> str:
    """ "Open now: Main line answers. After hours: Night line answers instead." (or the other
    way round when closed now). Plain words: the room is under Advanced."""
    if r.open_now is None:
        return ""
    if r.after_hours_action == "route":
        closed = f"{r.after_hours_name} answers instead"
    else:
        words = ACTION_WORDS.get(r.after_hours_action, ACTION_WORDS["message"])
        closed = f"{r.assigned_name} {words}"
    if r.open_now:
        return f"Open now: {r.assigned_name} answers. After hours: {closed}."
    return f"Closed now: {closed}. While open: {r.assigned_name} answers."
