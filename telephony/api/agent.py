"""The agent worker's API: GET /api/v1/agent/config (a receptionist's settings) and
POST /api/v1/agent/calls/{room_name}/outcome (what happened on a call; see telephony.outcomes).

Authenticated with an agent service token only (never a user session or user token). The
ETag is the clinic, the receptionist, its config version and the call-time part (hours and
facts versions, open or closed, the next change: frontdesk.config): the worker sends it back
in If-None-Match and gets a 304 while none of them changed. Unknown, draft, suspended and
offboarded clinics are 404: the platform does not serve calls for them.
"""

from __future__ import annotations

from typing import Any

from django.db import connections, transaction
from django.http import Http404
from django.utils.decorators import method_decorator
from django.utils.http import parse_etags
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from frontdesk.config import call_time
from telephony.agent_config import (
    CONFIG_CACHE_CONTROL,
    agent_config_payload,
    clinic_etag_part,
    config_etag,
    live_receptionist,
    served_clinic,
    served_receptionist,
)
from telephony.agent_project import mismatch_headers
from telephony.api.auth import AgentTokenAuthentication, IsAgent
from telephony.models import CallLogPolicy, CallOutcome
from telephony.outcomes import (
    MAX_SUMMARY,
    MAX_TRANSCRIPT,
    NoSuchCall,
    OutcomeConflict,
    record_outcome,
)
from tenants.api.serializers import StrictChoiceField


# Not inside ATOMIC_REQUESTS: a read on the caller's critical path, where BEGIN and COMMIT
# would be two of its four round trips (the token's last_used_at is one autocommitted UPDATE).
@method_decorator(transaction.non_atomic_requests, name="dispatch")
class AgentConfigApi(APIView):
    authentication_classes = (AgentTokenAuthentication,)
    permission_classes = (IsAgent,)
    throttle_classes = ()

    def handle_exception(self, exc: Exception) -> Response:
        """DRF marks the innermost atomic block for rollback when it answers an error, meant
        for the request's transaction; this view has none, so an enclosing block (a test's)
        is left as it was."""
        marked = [(c, c.needs_rollback) for c in connections.all() if c.in_atomic_block]
        response = super().handle_exception(exc)
        for conn, before in marked:
            conn.set_rollback(before)
        return response

    @extend_schema(
        operation_id="agent_config",
        parameters=[
            OpenApiParameter("clinic", OpenApiTypes.UUID, description="The clinic's id"),
            OpenApiParameter(
                "receptionist",
                OpenApiTypes.INT,
                description="The receptionist's id (the job metadata's `receptionist`); "
                "left out or unknown: the clinic's first receptionist",
            ),
            OpenApiParameter("room", OpenApiTypes.STR, description="Or: a LiveKit room name"),
        ],
        responses={200: OpenApiTypes.OBJECT, 304: None, 401: None, 404: None},
    )
    def get(self, request: Any) -> Response:
        clinic_id = request.query_params.get("clinic", "").strip()
        room = request.query_params.get("room", "").strip()
        if not clinic_id and not room:
            raise ValidationError({"clinic": ["Give ?clinic=<uuid> or ?room=<room name>."]})
        receptionist_id = request.query_params.get("receptionist", "").strip()
        if clinic_id:  # the pickup path: one query, and a 304 reads nothing more
            config = live_receptionist(clinic_id, receptionist_id)
            clinic = config.clinic if config else None
        else:
            clinic = served_clinic(room=room)
            config = served_receptionist(clinic, room=room) if clinic else None
        if clinic is None or config is None:
            raise Http404("No live clinic here.")
        # The call-time part carries the next opening or closing: a 304 never outlives it.
        at_call = call_time(config)
        policy = CallLogPolicy.for_clinic(clinic)
        part = clinic_etag_part(clinic.name, policy.transcript_days)
        etag = config_etag(
            clinic.pk, config.pk, config.version, at_call.etag_part, clinic_part=part
        )
        headers = {"ETag": etag, "Cache-Control": CONFIG_CACHE_CONTROL, "Vary": "Authorization"}
        # The worker's project against the clinic's (decision 0155).
        headers.update(mismatch_headers(request.META, clinic, config))
        wanted = parse_etags(request.headers.get("If-None-Match", ""))
        if etag in wanted or "*" in wanted:
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers=headers)
        return Response(agent_config_payload(clinic, config, at_call, policy), headers=headers)


class OutcomeInput(serializers.Serializer):
    consent = StrictChoiceField(choices=CallOutcome.Consent.choices)
    consent_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    outcome = StrictChoiceField(choices=CallOutcome.Outcome.choices)
    summary = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=MAX_SUMMARY, trim_whitespace=True
    )
    transcript = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=MAX_TRANSCRIPT,
        trim_whitespace=False,
    )


class CallOutcomeApi(APIView):
    """POST /api/v1/agent/calls/{room_name}/outcome: the agent's account of a call, once.

    201 when stored, 200 when the same post was already stored (a retry), 409 when a
    different outcome was already posted for the call, 404 when the room is not ours.
    """

    authentication_classes = (AgentTokenAuthentication,)
    permission_classes = (IsAgent,)
    throttle_classes = ()

    @extend_schema(
        operation_id="agent_call_outcome",
        request=OutcomeInput,
        responses={
            200: OpenApiTypes.OBJECT,
            201: OpenApiTypes.OBJECT,
            400: OpenApiTypes.OBJECT,
            401: None,
            404: None,
            409: OpenApiTypes.OBJECT,
        },
    )
    def post(self, request: Any, room_name: str) -> Response:
        data = OutcomeInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            recorded = record_outcome(room_name=room_name, **data.validated_data)
        except NoSuchCall:
            raise Http404("No call of ours has this room name.") from None
        except OutcomeConflict:
            return Response(
                {
                    "detail": "A different outcome was already posted for this call; "
                    "a call has one outcome."
                },
                status=status.HTTP_409_CONFLICT,
            )
        row = recorded.outcome
        body = {
            "room_name": row.room_name,
            "consent": row.consent,
            "outcome": row.outcome,
            "transcript_stored": recorded.transcript_stored,
            "created": recorded.created,
        }
        code = status.HTTP_201_CREATED if recorded.created else status.HTTP_200_OK
        return Response(body, status=code)
