"""Messages the receptionist takes: stored once per idempotency key, read by the clinic
(caller masked in lists), marked handled, emailed to owners and admins when the clinic
opted in (decision 0092)."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from frontdesk.models import FrontDesk, Message
from telephony.agent_config import served_clinic, served_receptionist
from telephony.calllog import last4, redact_room_name
from telephony.models import Call
from telephony.validators import normalize_e164
from tenants.models import Clinic, Membership, User
from tenants.text import clean_text
from tenants.timezones import clinic_region

logger = logging.getLogger(__name__)

MAX_KEY = 200
MAX_NAME = 120
MAX_REASON = 2000
_KEY_RE = re.compile(r"^[\x21-\x7e]{1,200}$")  # printable ASCII, no spaces
_PHONE_SEGMENT = re.compile(r"^\+?[0-9]{5,15}$")
EMAIL_TASK = "frontdesk.email_message"


class NoSuchRoom(Exception):
    """The room belongs to no live clinic of ours."""


class MessageConflict(Exception):
    """The idempotency key was used for a different message."""


@dataclass(frozen=True)
class Taken:
    message: Message
    created: bool


def clean_key(value: object) -> str:
    if not isinstance(value, str) or not _KEY_RE.match(value.strip()):
        raise ValidationError(
            {
                "Idempotency-Key": [
                    "Send an Idempotency-Key header: 1 to 200 printable characters without "
                    "spaces, the same on every retry of one message (a UUID is fine)."
                ]
            }
        )
    return value.strip()


def _one_line(value: object, field: str, limit: int, *, multiline: bool = False) -> str:
    return "" if value is None else clean_text(value, field, limit, multiline=multiline)


def _caller(clinic: Clinic, room: str, stored_name: str) -> tuple[str, str]:
    """The caller's number: from the call log row if the webhooks made one, else from the
    room name (LiveKit puts the caller's number there unless the rule hides it)."""
    call = Call.objects.filter(clinic=clinic, room_name=stored_name).only(
        "caller_number", "caller_last4"
    )
    row = call.first()
    if row is not None and (row.caller_number or row.caller_last4):
        return row.caller_number, row.caller_last4 or last4(row.caller_number)
    for part in room.split("_"):
        if _PHONE_SEGMENT.match(part):
            number = part if part.startswith("+") else ""
            return number, part[-4:]
    return "", ""


def _clean_fields(data: Any) -> tuple[Clinic, dict[str, str]]:
    """The body checked and normalised, with the live clinic its room belongs to. Every
    field's text is checked before the room is looked up, so an error names its field."""
    if not isinstance(data, dict):
        raise ValidationError({"non_field_errors": ["Send a JSON object."]})
    allowed = {"room", "caller_name", "callback_number", "reason", "urgency"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValidationError({unknown[0]: [f"Unknown field; send {', '.join(sorted(allowed))}."]})
    room = _one_line(data.get("room"), "room", 256)
    if not room:
        raise ValidationError({"room": ["Send the call's LiveKit room name."]})
    reason = _one_line(data.get("reason"), "reason", MAX_REASON, multiline=True)
    if not reason:
        raise ValidationError({"reason": ["Say what the caller wants (the message itself)."]})
    urgency = data.get("urgency", Message.Urgency.NORMAL)
    if urgency not in Message.Urgency.values:
        raise ValidationError({"urgency": ["Use normal or urgent."]})
    caller_name = _one_line(data.get("caller_name"), "caller_name", MAX_NAME)
    callback = _one_line(data.get("callback_number"), "callback_number", 64)
    clinic = served_clinic(room=room)
    if clinic is None:
        raise NoSuchRoom(room)
    if callback:
        try:
            callback = normalize_e164(callback, clinic_region(clinic))
        except ValidationError as exc:
            raise ValidationError({"callback_number": exc.messages}) from None
    return clinic, {
        "room": room,
        "caller_name": caller_name,
        "callback_number": callback,
        "reason": reason,
        "urgency": urgency,
    }


def record_message(*, key: object, data: Any) -> Taken:
    """Store the message in `data` once for (clinic, key); see the module docstring."""
    key = clean_key(key)
    clinic, fields = _clean_fields(data)
    digest = hashlib.sha256(
        json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    existing = Message.objects.filter(clinic=clinic, idempotency_key=key).first()
    if existing is not None:
        return _repeat(existing, digest)
    room = fields["room"]
    stored_name = redact_room_name(room)
    caller_number, caller_last4 = _caller(clinic, room, stored_name)
    try:
        with transaction.atomic():
            message = Message.objects.create(
                clinic=clinic,
                receptionist=served_receptionist(clinic, room=room),
                room_name=stored_name,
                caller_number=caller_number,
                caller_last4=caller_last4,
                caller_name=fields["caller_name"],
                callback_number=fields["callback_number"],
                reason=fields["reason"],
                urgency=fields["urgency"],
                idempotency_key=key,
                body_hash=digest,
            )
            _email_on_commit(clinic, message)
    except IntegrityError:  # a concurrent retry with the same key won
        return _repeat(Message.objects.get(clinic=clinic, idempotency_key=key), digest)
    return Taken(message, True)


def _repeat(existing: Message, digest: str) -> Taken:
    if existing.body_hash != digest:
        raise MessageConflict(existing.pk)
    return Taken(existing, False)


def _email_on_commit(clinic: Clinic, message: Message) -> None:
    wanted = FrontDesk.objects.filter(clinic=clinic, email_messages=True).exists()
    if wanted:
        transaction.on_commit(lambda: _publish_email(message.pk), robust=True)


def _publish_email(message_id: int) -> None:
    from celery import current_app

    try:
        current_app.signature(EMAIL_TASK, args=[message_id]).apply_async()
    except Exception:
        logger.warning("message %s: could not enqueue its email (broker unreachable)", message_id)


def message_set_handled(*, message: Message, handled: object, actor: User) -> Message:
    if not isinstance(handled, bool):
        raise ValidationError({"handled": ["Send true or false."]})
    with transaction.atomic():
        row = Message.objects.select_for_update().get(pk=message.pk)
        if handled and row.handled_at is None:
            row.handled_at, row.handled_by = timezone.now(), actor
            row.save(update_fields=["handled_at", "handled_by"])
        elif not handled and row.handled_at is not None:
            row.handled_at, row.handled_by = None, None
            row.save(update_fields=["handled_at", "handled_by"])
    return row


def email_messages_set(*, clinic: Clinic, enabled: bool) -> None:
    """Opt in or out of an email per message (not part of what the agent is told)."""
    with transaction.atomic():
        FrontDesk.objects.get_or_create(clinic=clinic)
        desk = FrontDesk.objects.select_for_update().get(clinic=clinic)
        if desk.email_messages != enabled:
            desk.email_messages = enabled
            desk.save(update_fields=["email_messages", "updated_at"])


def recipients(clinic: Clinic) -> list[str]:
    """Owners and admins: the members who may see callers' numbers (decision 0030)."""
    return sorted(
        Membership.objects.filter(
            clinic=clinic, role__in=(Membership.Role.OWNER, Membership.Role.ADMIN)
        ).values_list("user__email", flat=True)
    )
