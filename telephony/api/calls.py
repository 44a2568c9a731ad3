"""The clinic's call log and test call over the API.

GET calls/ is for every member (viewers included). POST test-call/ is for owners and admins:
with the emulator it places simulated calls that land in the call log, and even as a dry run
it spends LiveKit API budget, so it counts as an edit (viewers get 403).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.db import transaction
from django.utils.decorators import method_decorator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from telephony.models import Call
from telephony.testcall import TestCallUnavailable, test_call_run
from tenants.access import EDIT, ClinicPermission

MAX_CALLS = 100


class CallOutput(serializers.ModelSerializer):
    caller = serializers.CharField(source="caller_masked")

    class Meta:
        model = Call
        fields = (
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
        )


class CallListApi(APIView):
    permission_classes = (IsAuthenticated, ClinicPermission)

    @extend_schema(
        operation_id="calls_list",
        responses=inline_serializer("CallList", fields={"results": CallOutput(many=True)}),
    )
    def get(self, request: Any, slug: str) -> Response:
        calls = Call.objects.for_clinic(request.clinic).order_by("-created_at")[:MAX_CALLS]
        return Response({"results": CallOutput(calls, many=True).data})


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
        try:
            report = test_call_run(clinic=request.clinic, caller=raw, actor=request.user)
        except TestCallUnavailable as exc:
            return Response({"detail": exc.sentence}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        return Response(asdict(report))
