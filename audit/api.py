"""GET /api/v1/clinics/{slug}/audit-log/: owners and admins read their clinic's log.

Read-only: the view answers GET only, so PUT, PATCH and DELETE get 405. Paged by a
cursor-free `before` id (entries are append-only, so ids only grow).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.presenting import as_dict
from audit.selectors import KINDS, clinic_entries
from tenants.access import EDIT, ClinicPermission
from tenants.api.base import errors

PAGE = 100


class AuditEntryOutput(serializers.Serializer):
    id = serializers.IntegerField()
    at = serializers.DateTimeField()
    event = serializers.CharField(help_text="What happened, e.g. receptionist.update.")
    summary = serializers.CharField()
    object = serializers.CharField(help_text="What it happened to.")
    actor = serializers.EmailField(allow_null=True, help_text="Who (null: the system).")
    actor_kind = serializers.ChoiceField(choices=["user", "staff", "api_token", "system"])
    token = serializers.CharField(allow_null=True, help_text="The API token's name and prefix.")
    ip = serializers.IPAddressField(allow_null=True)
    changes = serializers.DictField(help_text="{field: [before, after]}; secrets never appear.")


class AuditLogApi(APIView):
    permission_classes = (IsAuthenticated, ClinicPermission)
    clinic_permission = EDIT

    @extend_schema(
        operation_id="audit_log_list",
        parameters=[
            OpenApiParameter("kind", OpenApiTypes.STR, enum=KINDS),
            OpenApiParameter("actor", OpenApiTypes.STR, description="Part of an email address."),
            OpenApiParameter("since", OpenApiTypes.DATE),
            OpenApiParameter("until", OpenApiTypes.DATE),
            OpenApiParameter("before", OpenApiTypes.INT, description="The next page: last id."),
        ],
        responses={
            200: inline_serializer(
                "AuditLog",
                fields={
                    "results": AuditEntryOutput(many=True),
                    "next_before": serializers.IntegerField(allow_null=True),
                },
            ),
            **errors(400, 401, 403, 404),
        },
    )
    def get(self, request: Any, slug: str) -> Response:
        try:
            entries = clinic_entries(request.clinic, request.query_params)
        except ValidationError as exc:
            return Response(exc.message_dict, status=400)
        before = str(request.query_params.get("before") or "").strip()
        if before:
            if not before.isascii() or not before.isdigit() or len(before) > 18:
                return Response({"before": ["Give the id of the last entry you have."]}, 400)
            entries = entries.filter(pk__lt=int(before))
        page = list(entries.order_by("-pk")[: PAGE + 1])
        more = len(page) > PAGE
        page = page[:PAGE]
        return Response(
            {
                "results": [as_dict(e) for e in page],
                "next_before": page[-1].pk if more else None,
            }
        )
