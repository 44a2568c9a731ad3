"""The clinic's opening hours, its facts and its receptionists' after-hours behaviour:

- GET/PUT /api/v1/clinics/{slug}/hours/ (the whole week and the closed days at once);
- GET/PATCH /api/v1/clinics/{slug}/clinic-info/ (what the receptionist knows);
- GET/PATCH /api/v1/clinics/{slug}/receptionists/{id}/after-hours/.

ClinicPermission resolves the clinic (outsiders 404, viewers read only). The services check
everything before saving; their ValidationErrors become 400s naming the field.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from frontdesk.hours import weekly_out
from frontdesk.knowledge import FIELDS as KNOWLEDGE_FIELDS
from frontdesk.models import AfterHours, FrontDesk
from frontdesk.services import (
    after_hours_of,
    after_hours_update,
    desk_of,
    hours_replace,
    knowledge_update,
)
from telephony.models import Receptionist
from tenants.api.base import READ_ERRORS, WRITE_ERRORS, ClinicApiView, errors
from tenants.models import Clinic

_period = inline_serializer(
    "OpeningPeriod",
    {
        "day": serializers.IntegerField(min_value=0, max_value=6, help_text="0 Monday … 6 Sunday"),
        "opens": serializers.RegexField(r"^\d{2}:\d{2}$", help_text='"HH:MM", 24-hour'),
        "closes": serializers.RegexField(
            r"^\d{2}:\d{2}$", help_text='"HH:MM", after `opens`; "24:00" is midnight'
        ),
    },
)
_closure = inline_serializer(
    "ClosedDay",
    {
        "date": serializers.DateField(),
        "reason": serializers.CharField(required=False, allow_blank=True, max_length=120),
    },
)
HOURS = inline_serializer(
    "OpeningHours",
    {
        "timezone": serializers.CharField(help_text="IANA name, e.g. America/New_York"),
        "weekly": serializers.ListField(child=_period),
        "closures": serializers.ListField(child=_closure),
    },
)
_faq = inline_serializer(
    "FrequentQuestion", {"question": serializers.CharField(), "answer": serializers.CharField()}
)
_texts = serializers.ListField(child=serializers.CharField(max_length=120), required=False)
CLINIC_INFO_FIELDS = {
    "address": serializers.CharField(required=False, allow_blank=True, max_length=500),
    "directions": serializers.CharField(required=False, allow_blank=True, max_length=1000),
    "services": _texts,
    "insurers": _texts,
    "languages": _texts,
    "emergency_number": serializers.CharField(required=False, allow_blank=True),
    "faqs": serializers.ListField(child=_faq, required=False),
}
CLINIC_INFO = inline_serializer("ClinicInfo", CLINIC_INFO_FIELDS)
AFTER_HOURS = inline_serializer(
    "AfterHoursBehaviour",
    {
        "action": serializers.ChoiceField(choices=AfterHours.Action.choices, required=False),
        "greeting": serializers.CharField(required=False, allow_blank=True, max_length=500),
        "instructions": serializers.CharField(required=False, allow_blank=True, max_length=4000),
        "route_to": serializers.IntegerField(required=False, allow_null=True, min_value=1),
    },
)


def _object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValidationError({"non_field_errors": ["Send a JSON object."]})
    return data


def hours_out(clinic: Clinic, desk: FrontDesk) -> dict[str, Any]:
    return {
        "timezone": clinic.timezone,
        "weekly": weekly_out(desk.weekly),
        "closures": desk.closures,
    }


def info_out(desk: FrontDesk) -> dict[str, Any]:
    return {field: getattr(desk, field) for field in KNOWLEDGE_FIELDS}


def after_hours_out(row: AfterHours) -> dict[str, Any]:
    return {
        "action": row.action,
        "greeting": row.greeting,
        "instructions": row.instructions,
        "route_to": row.route_to_id,
    }


class HoursApi(ClinicApiView):
    @extend_schema(operation_id="hours_retrieve", responses={200: HOURS, **errors(*READ_ERRORS)})
    def get(self, request: Request, slug: str) -> Response:
        clinic = self.clinic(request)
        return Response(hours_out(clinic, desk_of(clinic)))

    @extend_schema(
        operation_id="hours_replace",
        request=HOURS,
        responses={200: HOURS, **errors(*WRITE_ERRORS)},
    )
    def put(self, request: Request, slug: str) -> Response:
        clinic = self.clinic(request)
        data = _object(request.data)
        unknown = sorted(set(data) - {"timezone", "weekly", "closures"})
        if unknown:
            raise ValidationError(
                {unknown[0]: ["Unknown field; send timezone, weekly and closures."]}
            )
        for field in ("weekly", "closures"):
            if field not in data:
                raise ValidationError({field: ["This field is required (send [] for none)."]})
        desk = hours_replace(
            clinic=clinic,
            timezone=data.get("timezone", clinic.timezone),
            weekly=data["weekly"],
            closures=data["closures"],
        )
        return Response(hours_out(clinic, desk))


class ClinicInfoApi(ClinicApiView):
    @extend_schema(
        operation_id="clinic_info_retrieve", responses={200: CLINIC_INFO, **errors(*READ_ERRORS)}
    )
    def get(self, request: Request, slug: str) -> Response:
        return Response(info_out(desk_of(self.clinic(request))))

    @extend_schema(
        operation_id="clinic_info_update",
        request=CLINIC_INFO,
        responses={200: CLINIC_INFO, **errors(*WRITE_ERRORS)},
    )
    def patch(self, request: Request, slug: str) -> Response:
        desk = knowledge_update(clinic=self.clinic(request), **_object(request.data))
        return Response(info_out(desk))


RECEPTIONIST_ID = OpenApiParameter(
    "receptionist_id", int, OpenApiParameter.PATH, description="The receptionist's id."
)


class AfterHoursApi(ClinicApiView):
    def _receptionist(self, request: Request, receptionist_id: int) -> Receptionist:
        row = (
            Receptionist.objects.for_clinic(self.clinic(request)).filter(pk=receptionist_id).first()
        )
        if row is None:
            raise Http404("No such receptionist in this clinic.")
        return row

    @extend_schema(
        operation_id="after_hours_retrieve",
        parameters=[RECEPTIONIST_ID],
        responses={200: AFTER_HOURS, **errors(*READ_ERRORS)},
    )
    def get(self, request: Request, slug: str, receptionist_id: int) -> Response:
        return Response(
            after_hours_out(after_hours_of(self._receptionist(request, receptionist_id)))
        )

    @extend_schema(
        operation_id="after_hours_update",
        parameters=[RECEPTIONIST_ID],
        request=AFTER_HOURS,
        responses={200: AFTER_HOURS, **errors(*WRITE_ERRORS)},
    )
    def patch(self, request: Request, slug: str, receptionist_id: int) -> Response:
        row = self._receptionist(request, receptionist_id)
        data = _object(request.data)
        unknown = sorted(set(data) - {"action", "greeting", "instructions", "route_to"})
        if unknown:
            raise ValidationError(
                {unknown[0]: ["Unknown field; send action, greeting, instructions, route_to."]}
            )
        updated = after_hours_update(
            receptionist=row,
            action=data.get("action"),
            greeting=data.get("greeting"),
            instructions=data.get("instructions"),
            route_to=data.get("route_to"),
            route_to_given="route_to" in data,
        )
        return Response(after_hours_out(updated))
