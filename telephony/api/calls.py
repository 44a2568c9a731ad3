"""The clinic's call log and test call over the API.

GET calls/ and calls/{room_sid}/ are for every member (viewers included), who see what their
role allows (decision 0030): owners and admins see the caller's full number and the
transcript; viewers see the caller masked (***1234), the outcome and summary, no transcript.
POST test-call/ is for owners and admins:
with the emulator it places simulated calls that land in the call log, and even as a dry run
it spends LiveKit API budget, so it counts as an edit (viewers get 403).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.db import transaction
from django.http import Http404
from django.utils.decorators import method_decorator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from telephony.models import Call, CallOutcome
from telephony.outcomes import attach_outcomes
from telephony.selectors import CALL_ORDER
from telephony.testcall import TestCallUnavailable, test_call_run
from tenants.access import EDIT, ClinicPermission
from tenants.text import text_problem

MAX_CALLS = 100


class CallOutput(serializers.ModelSerializer):
    caller = serializers.SerializerMethodField()
    consent = serializers.SerializerMethodField()
    outcome = serializers.SerializerMethodField()
    summary = serializers.SerializerMethodField()

    class Meta:
        model = Call
        fields: tuple[str, ...] = (
            "room_name",
            "room_sid",
            "call_id",
            "trunk_id",
            "rule_id",
            "caller",
            "status",
            "started_at",
            "answered_at",
            "ended_at",
            "duration_seconds",
            "is_test",
            "mapped_by",
            "consent",
            "outcome",
            "summary",
        )

    def _outcome(self, call: Call) -> CallOutcome | None:
        return getattr(call, "outcome", None)

    def get_caller(self, call: Call) -> str:
        return call.caller_for(full=self.context.get("full", False))

    def get_consent(self, call: Call) -> str | None:
        found = self._outcome(call)
        return found.consent if found else None

    def get_outcome(self, call: Call) -> str | None:
        found = self._outcome(call)
        return found.outcome if found else None

    def get_summary(self, call: Call) -> str | None:
        found = self._outcome(call)
        return found.summary if found else None


class CallDetailOutput(CallOutput):
    consent_at = serializers.SerializerMethodField()
    transcript = serializers.SerializerMethodField()

    class Meta(CallOutput.Meta):
        fields: tuple[str, ...] = (*CallOutput.Meta.fields, "consent_at", "transcript")

    def get_consent_at(self, call: Call) -> str | None:
        found = self._outcome(call)
        return found.consent_at.isoformat() if found and found.consent_at else None

    def get_transcript(self, call: Call) -> str | None:
        found = self._outcome(call)
        if found is None or not self.context.get("full", False):
            return None
        return found.transcript or None


class CallListApi(APIView):
    permission_classes = (IsAuthenticated, ClinicPermission)

    @extend_schema(
        operation_id="calls_list",
        responses=inline_serializer("CallList", fields={"results": CallOutput(many=True)}),
    )
    def get(self, request: Any, slug: str) -> Response:
        calls = Call.objects.for_clinic(request.clinic).order_by(*CALL_ORDER)[:MAX_CALLS]
        rows = attach_outcomes(request.clinic, calls)
        context = {"full": request.membership.can_edit}
        return Response({"results": CallOutput(rows, many=True, context=context).data})


class CallDetailApi(APIView):
    permission_classes = (IsAuthenticated, ClinicPermission)

    @extend_schema(operation_id="call_retrieve", responses={200: CallDetailOutput, 404: None})
    def get(self, request: Any, slug: str, room_sid: str) -> Response:
        call = Call.objects.for_clinic(request.clinic).filter(room_sid=room_sid).first()
        if call is None:
            raise Http404("No such call in this clinic.")
        (call,) = attach_outcomes(request.clinic, [call])
        context = {"full": request.membership.can_edit}
        return Response(CallDetailOutput(call, context=context).data)


@method_decorator(transaction.non_atomic_requests, name="dispatch")
class TestCallApi(APIView):
    """Not wrapped in the request transaction: it calls LiveKit, then records in its own."""

    permission_classes = (IsAuthenticated, ClinicPermission)
    clinic_permission = EDIT

    @extend_schema(
        operation_id="test_call",
        request=inline_serializer("TestCallInput", fields={"from": serializers.CharField()}),
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT, 503: OpenApiTypes.OBJECT},
    )
    def post(self, request: Any, slug: str) -> Response:
        raw = request.data.get("from") if isinstance(request.data, dict) else None
        if raw is None:
            return Response({"from": ["This field is required."]}, status=400)
        problem = text_problem(raw, multiline=False) if isinstance(raw, str) else None
        if problem:
            return Response({"from": [problem]}, status=400)
        try:
            report = test_call_run(clinic=request.clinic, caller=raw, actor=request.user)
        except TestCallUnavailable as exc:
            return Response({"detail": exc.sentence}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        return Response(asdict(report))
