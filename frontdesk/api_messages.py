"""Messages over the API:

- POST /api/v1/agent/messages: the agent, with its service token and an `Idempotency-Key`
  header. 201 when stored, 200 when the same message was already stored under that key (a
  retry), 409 when the key was used for a different message, 404 when the room is not a
  live clinic's.
- GET /api/v1/clinics/{slug}/messages/: newest first, the caller masked (every role).
- GET/PATCH /api/v1/clinics/{slug}/messages/{id}/: one message; owners and admins see the
  caller's full number; PATCH {"handled": true|false} (owners and admins).
- GET/PATCH /api/v1/clinics/{slug}/messages/email/: whether owners and admins get an email
  for each new message (the web inbox's checkbox); every member reads it, owners and
  admins change it.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from frontdesk.messages import (
    MessageConflict,
    NoSuchRoom,
    email_messages_set,
    message_set_handled,
    record_message,
)
from frontdesk.models import FrontDesk, Message
from telephony.api.auth import AgentTokenAuthentication, IsAgent
from tenants.api.base import READ_ERRORS, WRITE_ERRORS, ClinicApiView, errors

PAGE = 100

AGENT_MESSAGE = inline_serializer(
    "AgentMessageInput",
    {
        "room": serializers.CharField(max_length=256, help_text="The call's LiveKit room name"),
        "caller_name": serializers.CharField(required=False, allow_blank=True, max_length=120),
        "callback_number": serializers.CharField(
            required=False, allow_blank=True, help_text="E.164, or as the caller said it"
        ),
        "reason": serializers.CharField(max_length=2000),
        "urgency": serializers.ChoiceField(choices=Message.Urgency.choices, required=False),
    },
)
AGENT_MESSAGE_OUT = inline_serializer(
    "AgentMessageOutput",
    {"id": serializers.IntegerField(), "created": serializers.BooleanField()},
)
MESSAGE = inline_serializer(
    "Message",
    {
        "id": serializers.IntegerField(),
        "created_at": serializers.DateTimeField(),
        "urgency": serializers.ChoiceField(choices=Message.Urgency.choices),
        "caller": serializers.CharField(help_text="***1234 in lists and for viewers"),
        "caller_name": serializers.CharField(),
        "callback_number": serializers.CharField(help_text="Masked like `caller`"),
        "reason": serializers.CharField(),
        "receptionist": serializers.IntegerField(allow_null=True),
        "room_name": serializers.CharField(help_text="As in the call log (caller redacted)"),
        "handled": serializers.BooleanField(),
        "handled_at": serializers.DateTimeField(allow_null=True),
        "handled_by": serializers.EmailField(allow_null=True),
    },
)
HANDLED = inline_serializer("MessageHandledInput", {"handled": serializers.BooleanField()})
EMAIL_FIELD = "email_owners_and_admins"
MESSAGE_EMAIL = inline_serializer(
    "MessageEmail",
    {
        EMAIL_FIELD: serializers.BooleanField(
            help_text="Email the clinic's owners and admins once for each new message "
            "(the caller masked; the message itself stays behind sign-in)."
        )
    },
)
MESSAGE_ID = OpenApiParameter("message_id", int, OpenApiParameter.PATH, description="Its id.")


def message_out(row: Message, *, full: bool) -> dict[str, Any]:
    dt = serializers.DateTimeField()
    return {
        "id": row.pk,
        "created_at": dt.to_representation(row.created_at),
        "urgency": row.urgency,
        "caller": (row.caller_number or row.caller_masked) if full else row.caller_masked,
        "caller_name": row.caller_name,
        "callback_number": row.callback_number if full else row.callback_masked,
        "reason": row.reason,
        "receptionist": row.receptionist_id,
        "room_name": row.room_name,
        "handled": row.is_handled,
        "handled_at": dt.to_representation(row.handled_at) if row.handled_at else None,
        "handled_by": row.handled_by.email if row.handled_by else None,
    }


def _refuse_changed_echoes(data: dict[str, Any], current: dict[str, Any]) -> None:
    """What a GET returned may be sent back: unchanged read-only fields are ignored (decision
    0023); a changed one, or a field a message does not have, is refused by name."""
    for field, value in data.items():
        if field == "handled":
            continue
        if field not in current:
            raise ValidationError({field: ['Unknown field; send {"handled": true|false}.']})
        if value != current[field]:
            raise ValidationError(
                {field: ["This field is read-only; only `handled` can be changed."]}
            )


class AgentMessageApi(APIView):
    authentication_classes = (AgentTokenAuthentication,)
    permission_classes = (IsAgent,)
    throttle_classes = ()

    @extend_schema(
        operation_id="agent_message",
        request=AGENT_MESSAGE,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=True,
                description="The same on every retry of one message.",
            )
        ],
        responses={
            200: AGENT_MESSAGE_OUT,
            201: AGENT_MESSAGE_OUT,
            400: OpenApiTypes.OBJECT,
            401: None,
            404: None,
            409: OpenApiTypes.OBJECT,
        },
    )
    def post(self, request: Request) -> Response:
        try:
            taken = record_message(key=request.headers.get("Idempotency-Key"), data=request.data)
        except NoSuchRoom:
            raise Http404("No live clinic of ours has this room.") from None
        except MessageConflict:
            return Response(
                {
                    "Idempotency-Key": [
                        "This key was already used for a different message; use a new key "
                        "for a new message."
                    ]
                },
                status=status.HTTP_409_CONFLICT,
            )
        code = status.HTTP_201_CREATED if taken.created else status.HTTP_200_OK
        return Response({"id": taken.message.pk, "created": taken.created}, status=code)


def _rows(clinic: Any) -> Any:
    return Message.objects.filter(clinic=clinic).select_related("handled_by")


class MessageListApi(ClinicApiView):
    @extend_schema(
        operation_id="messages_list",
        parameters=[
            OpenApiParameter(
                "handled", bool, description="true: handled only; false: new only; left out: all"
            )
        ],
        responses={
            200: inline_serializer(
                "MessageList", {"results": serializers.ListField(child=MESSAGE)}
            ),
            **errors(400, *READ_ERRORS),  # 400: `handled` neither true nor false
        },
    )
    def get(self, request: Request, slug: str) -> Response:
        rows = _rows(self.clinic(request))
        wanted = request.query_params.get("handled")
        if wanted not in (None, "true", "false"):
            raise ValidationError({"handled": ["Use true or false, or leave it out."]})
        if wanted is not None:
            rows = rows.filter(handled_at__isnull=wanted == "false")
        return Response({"results": [message_out(r, full=False) for r in rows[:PAGE]]})


class MessageDetailApi(ClinicApiView):
    def _get(self, request: Request, message_id: int) -> Message:
        row: Message | None = _rows(self.clinic(request)).filter(pk=message_id).first()
        if row is None:
            raise Http404("No such message in this clinic.")
        return row

    @extend_schema(
        operation_id="messages_retrieve",
        parameters=[MESSAGE_ID],
        responses={200: MESSAGE, **errors(*READ_ERRORS)},
    )
    def get(self, request: Request, slug: str, message_id: int) -> Response:
        full = self.membership(request).can_edit
        return Response(message_out(self._get(request, message_id), full=full))

    @extend_schema(
        operation_id="messages_update",
        parameters=[MESSAGE_ID],
        request=HANDLED,
        responses={200: MESSAGE, **errors(*WRITE_ERRORS)},
    )
    def patch(self, request: Request, slug: str, message_id: int) -> Response:
        row = self._get(request, message_id)
        data = request.data if isinstance(request.data, dict) else None
        if data is None or "handled" not in data:
            raise ValidationError({"handled": ['Send {"handled": true} or {"handled": false}.']})
        _refuse_changed_echoes(data, message_out(row, full=True))
        updated = message_set_handled(message=row, handled=data["handled"], actor=request.user)
        return Response(message_out(self._get(request, updated.pk), full=True))


def _email_out(clinic: Any) -> dict[str, bool]:
    desk = FrontDesk.objects.filter(clinic=clinic).only("email_messages").first()
    return {EMAIL_FIELD: bool(desk and desk.email_messages)}


class MessageEmailApi(ClinicApiView):
    @extend_schema(
        operation_id="message_email_retrieve",
        responses={200: MESSAGE_EMAIL, **errors(*READ_ERRORS)},
    )
    def get(self, request: Request, slug: str) -> Response:
        return Response(_email_out(self.clinic(request)))

    @extend_schema(
        operation_id="message_email_update",
        request=MESSAGE_EMAIL,
        responses={200: MESSAGE_EMAIL, **errors(*WRITE_ERRORS)},
    )
    def patch(self, request: Request, slug: str) -> Response:
        clinic = self.clinic(request)
        data = request.data if isinstance(request.data, dict) else None
        hint = f'Send {{"{EMAIL_FIELD}": true}} or {{"{EMAIL_FIELD}": false}}.'
        if data is None or EMAIL_FIELD not in data:
            raise ValidationError({EMAIL_FIELD: [hint]})
        unknown = sorted(set(data) - {EMAIL_FIELD})
        if unknown:
            raise ValidationError({unknown[0]: [f"Unknown field; {hint}"]})
        if not isinstance(data[EMAIL_FIELD], bool):
            raise ValidationError({EMAIL_FIELD: [f"Use true or false. {hint}"]})
        email_messages_set(clinic=clinic, enabled=data[EMAIL_FIELD])
        return Response(_email_out(clinic))
