"""The call log: LiveKit webhook events merged into one Call row per room.

Each event only ever moves a field towards its final value (earliest start, earliest end,
"seen a caller"), and the status is derived from those fields, so applying the same events
again, or in another order, gives the same row. The room SID is the row's identity.

Mapping a room to its clinic, strongest evidence first:
1. the SIP participant's `sip.trunkID` or `sip.ruleID`, matched against the IDs reconcile
   stored on the clinic's Provisioning row (LiveKit sets these; nobody else can);
2. the `switchboard.clinic` attribute our dispatch rule sets on the caller;
3. the room name's prefix (rooms are "<room prefix>_<caller>_<random>").
Room events carry no participant, so they use the clinic a participant event already
established, else the prefix.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection, transaction

from telephony import call_events, call_portable
from telephony.call_clinic import find_clinic
from telephony.call_merge import derive as _derive
from telephony.call_merge import earliest as _earliest
from telephony.call_upsert import upsert
from telephony.livekit_gateway import WebhookEvent, WebhookParticipant
from telephony.models import Call
from tenants.models import Clinic

logger = logging.getLogger(__name__)

HANDLED_EVENTS = frozenset(
    {"room_started", "room_finished", "participant_joined", "participant_left"}
)
_PHONE_SEGMENT = re.compile(r"^\+?[0-9]{5,}$")
_DIGITS = re.compile(r"[0-9]")
MappedBy = Call.MappedBy
# How much each kind of evidence counts when two events disagree (higher wins).
_STRENGTH: dict[str, int] = {
    MappedBy.ROOM_PREFIX: 0,
    MappedBy.ATTRIBUTE: 1,
    MappedBy.RULE: 2,
    MappedBy.TRUNK: 3,
}


def redact_room_name(name: str) -> str:
    """A room name safe to store and log: a segment that is a whole phone number (rules
    without hide_phone_number put the caller there) keeps only its last four digits."""
    return "_".join(
        f"***{part[-4:]}" if _PHONE_SEGMENT.match(part) else part for part in name.split("_")
    )


def last4(text: str) -> str:
    return "".join(_DIGITS.findall(text))[-4:]


def number_attribute(participant: WebhookParticipant, name: str) -> str:
    """A phone number attribute (sip.phoneNumber: the caller, sip.trunkPhoneNumber: the line
    called), present when the dispatch rule does not hide numbers (decision 0031); anything
    that does not look like a phone number is not kept."""
    number = participant.attributes.get(name, "").strip()
    return number if _PHONE_SEGMENT.match(number) and len(number) <= 20 else ""


def caller_last4(participant: WebhookParticipant) -> str:
    """The caller's last four digits from what LiveKit shows: the full number attribute when
    the rule does not hide it, else the participant name "Phone 4567"."""
    number = participant.attributes.get("sip.phoneNumber", "")
    if number:
        return last4(number)
    name = participant.name.removeprefix("Phone ").strip()
    return last4(name) if name.isdigit() or name.lstrip("+").isdigit() else ""


@dataclass(frozen=True)
class Mapping:
    clinic: Clinic
    mapped_by: str


def map_event(event: WebhookEvent) -> Mapping | None:
    """The event's clinic, locked, in one statement (telephony.call_clinic): run inside the
    transaction that records the event."""
    assert event.room is not None
    person = event.participant
    attrs = person.attributes if person is not None and person.kind == "SIP" else {}
    find = find_clinic if connection.vendor == "postgresql" else call_portable.find_clinic
    found = find(
        room_sid=event.room.sid,
        room_name=event.room.name,
        trunk=attrs.get("sip.trunkID", ""),
        rule=attrs.get("sip.ruleID", ""),
        attribute=attrs.get("switchboard.clinic", ""),
    )
    return Mapping(*found) if found is not None else None


def _at(seconds: float | None) -> datetime | None:
    return datetime.fromtimestamp(seconds, tz=UTC) if seconds else None


class ForeignClinic(Exception):
    """The event's clinic is not one the caller accepts (another LiveKit project's)."""


def record_event(
    event: WebhookEvent, accept: Callable[[Clinic], bool] | None = None
) -> Call | None:
    """Merge one verified webhook event into the call log; None if it is not a call of ours.

    Statements per event: the clinic found and locked (one per kind of evidence tried), one
    INSERT … ON CONFLICT DO UPDATE that writes or merges the row (whether the room is a test
    call's read in it), and what the signal's receivers read and write."""
    if event.event not in HANDLED_EVENTS or event.room is None or not event.room.sid:
        return None
    with transaction.atomic():
        mapping = map_event(event)
        if mapping is None:
            logger.info(
                "webhook %s for room %s (%s): no clinic matches; ignored",
                event.event,
                redact_room_name(event.room.name),
                event.room.sid,
            )
            return None
        if accept is not None and not accept(mapping.clinic):
            raise ForeignClinic(str(mapping.clinic.pk))
        call = _write(event, mapping)
        call_events.call_updated(call)
    return call


def _write(event: WebhookEvent, mapping: Mapping) -> Call:
    """The room's row merged with the event in one statement (telephony.call_upsert): the
    event's own values, computed by `_merge` on an empty row, inserted or merged in."""
    assert event.room is not None
    fresh = Call(
        clinic=mapping.clinic,
        room_sid=event.room.sid,
        room_name=redact_room_name(event.room.name),
        mapped_by=mapping.mapped_by,
    )
    _merge(fresh, event, mapping)
    if connection.vendor == "postgresql":
        call = upsert(fresh)
    else:  # make run's SQLite: the same rules through the ORM
        call = call_portable.upsert(fresh, _STRENGTH)
    if call.clinic_id == mapping.clinic.pk:
        call.clinic = mapping.clinic  # already read (and locked): not read again
    return call


def _merge(call: Call, event: WebhookEvent, mapping: Mapping) -> None:
    assert event.room is not None
    if _STRENGTH[mapping.mapped_by] > _STRENGTH[call.mapped_by]:
        if mapping.clinic.pk != call.clinic_id:
            logger.warning(
                "room %s: %s says clinic %s, earlier evidence said %s; using the former",
                event.room.sid,
                mapping.mapped_by,
                mapping.clinic.pk,
                call.clinic_id,
            )
        call.clinic, call.mapped_by = mapping.clinic, mapping.mapped_by
    when = _at(event.created_at)
    call.started_at = _earliest(call.started_at, _at(event.room.created_at), when)
    person = event.participant
    if person is not None and person.kind == "SIP":
        attrs = person.attributes
        call.trunk_id = call.trunk_id or attrs.get("sip.trunkID", "")
        call.rule_id = call.rule_id or attrs.get("sip.ruleID", "")
        call.call_id = call.call_id or attrs.get("sip.callID", "")
        call.caller_last4 = call.caller_last4 or caller_last4(person)
        call.caller_number = call.caller_number or number_attribute(person, "sip.phoneNumber")
        call.called_number = call.called_number or number_attribute(person, "sip.trunkPhoneNumber")
        call.answered_at = _earliest(call.answered_at, _at(person.joined_at) or when)
        if event.event == "participant_left":
            call.caller_left_at = _earliest(call.caller_left_at, when)
    if event.event == "room_finished":
        call.room_finished_at = _earliest(call.room_finished_at, when)
    _derive(call)
