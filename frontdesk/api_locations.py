"""A clinic's locations over the API (issue 15):

- GET/POST /api/v1/clinics/{slug}/locations/
- GET/PATCH/DELETE /api/v1/clinics/{slug}/locations/{id}/

A location is `{"id", "name", "address", "directions", "hours", "receptionists"}`; `hours`
is null (the location follows the clinic's hours) or `{"timezone", "weekly", "closures"}`
with the shape of `hours/` (`timezone` null: the clinic's). A receptionist names its location
with `PATCH receptionists/{id}/ {"location": <id>|null}`; `receptionists` here is read-only.
ClinicPermission resolves the clinic (outsiders 404, viewers read only).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from frontdesk.api import _closure, _period
from frontdesk.locations import (
    location_create,
    location_delete,
    location_out,
    location_update,
)
from frontdesk.models import Location
from telephony.models import Receptionist
from tenants.api.base import READ_ERRORS, WRITE_ERRORS, ClinicApiView, errors

_hours = inline_serializer(
    "LocationHours",
    {
        "timezone": serializers.CharField(
            allow_null=True, required=False, help_text="IANA name; null: the clinic's zone"
        ),
        "weekly": serializers.ListField(child=_period.__class__()),
        "closures": serializers.ListField(child=_closure.__class__()),
    },
    allow_null=True,
    required=False,
    help_text="null: the clinic's opening hours apply",
)
_fields = {
    "name": serializers.CharField(max_length=60),
    "address": serializers.CharField(required=False, allow_blank=True, max_length=500),
    "directions": serializers.CharField(required=False, allow_blank=True, max_length=1000),
    "hours": _hours,
}
LOCATION_INPUT = inline_serializer("LocationInput", _fields)
LOCATION_PATCH = inline_serializer(
    "LocationPatch",
    {**_fields, "name": serializers.CharField(max_length=60, required=False)},
)
LOCATION = inline_serializer(
    "Location",
    {
        "id": serializers.IntegerField(),
        **_fields,
        "receptionists": serializers.ListField(
            child=serializers.IntegerField(),
            help_text="The receptionists answering for this location (set on each receptionist)",
        ),
    },
)
LOCATION_ID = OpenApiParameter(
    "location_id", int, OpenApiParameter.PATH, description="The location's id."
)
READ_ONLY = ("id", "receptionists")


def _object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValidationError({"non_field_errors": ["Send a JSON object."]})
    return data


def _writable(data: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
    """What a GET returned may be sent back: unchanged read-only fields are ignored (decision
    0023); a changed one is refused by name."""
    out = dict(data)
    for field in READ_ONLY:
        if field in out:
            if current is None or out[field] != current[field]:
                hint = (
                    'set it on each receptionist: PATCH receptionists/{id}/ {"location": <id>}'
                    if field == "receptionists"
                    else "it is given by the platform"
                )
                raise ValidationError({field: [f"This field is read-only; {hint}."]})
            del out[field]
    return out


def _receptionists(location: Location) -> list[int]:
    return sorted(Receptionist.objects.filter(location=location).values_list("pk", flat=True))


def _out(location: Location) -> dict[str, Any]:
    return location_out(location, _receptionists(location))


class LocationListApi(ClinicApiView):
    @extend_schema(
        operation_id="locations_list",
        responses={200: LOCATION.__class__(many=True), **errors(*READ_ERRORS)},
    )
    def get(self, request: Request, slug: str) -> Response:
        clinic = self.clinic(request)
        rows = list(Location.objects.filter(clinic=clinic).order_by("id"))
        lines: dict[int, list[int]] = {}
        for pk, location_id in Receptionist.objects.filter(location__in=rows).values_list(
            "pk", "location_id"
        ):
            lines.setdefault(location_id, []).append(pk)
        return Response([location_out(r, sorted(lines.get(r.pk, []))) for r in rows])

    @extend_schema(
        operation_id="locations_add",
        request=LOCATION_INPUT,
        responses={201: LOCATION, **errors(*WRITE_ERRORS)},
    )
    def post(self, request: Request, slug: str) -> Response:
        clinic = self.clinic(request)
        row = location_create(clinic=clinic, **_writable(_object(request.data), None))
        return Response(_out(row), status=status.HTTP_201_CREATED)


class LocationDetailApi(ClinicApiView):
    def _get(self, request: Request, location_id: int) -> Location:
        row = Location.objects.filter(clinic=self.clinic(request), pk=location_id).first()
        if row is None:
            raise Http404("No such location in this clinic.")
        return row

    @extend_schema(
        operation_id="locations_retrieve",
        parameters=[LOCATION_ID],
        responses={200: LOCATION, **errors(*READ_ERRORS)},
    )
    def get(self, request: Request, slug: str, location_id: int) -> Response:
        return Response(_out(self._get(request, location_id)))

    @extend_schema(
        operation_id="locations_update",
        parameters=[LOCATION_ID],
        request=LOCATION_PATCH,
        responses={200: LOCATION, **errors(*WRITE_ERRORS)},
    )
    def patch(self, request: Request, slug: str, location_id: int) -> Response:
        row = self._get(request, location_id)
        data = _writable(_object(request.data), _out(row))
        return Response(_out(location_update(location=row, **data)))

    @extend_schema(
        operation_id="locations_remove",
        parameters=[LOCATION_ID],
        responses={204: None, **errors(*WRITE_ERRORS)},
    )
    def delete(self, request: Request, slug: str, location_id: int) -> Response:
        """Its receptionists answer with the clinic's facts and hours again."""
        location_delete(location=self._get(request, location_id))
        return Response(status=status.HTTP_204_NO_CONTENT)
