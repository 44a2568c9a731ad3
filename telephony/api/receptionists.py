"""A clinic's receptionists, /api/v1/clinics/{slug}/receptionists/ (issue 15).

`agent/` keeps working and edits the first receptionist. A number's receptionist is set on
`numbers/` (POST) and `numbers/{e164}/` (PATCH). `location` names the location the
receptionist answers for (frontdesk.locations; not part of its version). Every view
resolves the clinic through ClinicPermission (outsiders 404, viewers read only); a
receptionist of another clinic is a 404 like a missing one.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import transaction
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from frontdesk.locations import location_of, receptionist_location_set
from telephony.api.serializers import AgentInput
from telephony.models import Receptionist
from telephony.receptionists import (
    AGENT_FIELDS,
    receptionist_create,
    receptionist_delete,
    receptionist_of,
    receptionist_update,
)
from tenants.api.base import READ_ERRORS, WRITE_ERRORS, ClinicApiView, errors
from tenants.api.serializers import StrictCharField

NAME_HELP = "What the clinic calls this line, e.g. “Spanish line” (unique in the clinic)."


class ReceptionistInput(AgentInput):
    """PATCH: the fields sent change; the others keep their value."""

    echo_fields = ("id", "slug", "numbers", "first", "version", "created_at", "updated_at")
    echo_hints: ClassVar[dict[str, str]] = {
        "version": "it goes up by itself with every change",
        "slug": "it is set when the receptionist is created and names its line in LiveKit",
        "numbers": 'assign a number with PATCH numbers/{e164}/ {"receptionist": <id>}',
        "first": "the first receptionist is the oldest one",
    }

    name = StrictCharField(max_length=60, required=False, help_text=NAME_HELP)
    location = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        help_text="The id of the location it answers for (see locations/); null: the clinic "
        "as a whole. Its address and directions, and its opening hours if it has its own, "
        "are then the ones the receptionist uses.",
    )


class ReceptionistCreateInput(ReceptionistInput):
    name = StrictCharField(max_length=60, help_text=NAME_HELP)


class ReceptionistOutput(serializers.ModelSerializer):
    numbers = serializers.SerializerMethodField(
        help_text="The numbers this receptionist answers (E.164)."
    )
    first = serializers.SerializerMethodField(
        help_text="Whether this is the clinic's first receptionist: it answers new numbers "
        "and is the one `agent/` edits."
    )

    class Meta:
        model = Receptionist
        fields = (
            "id",
            "name",
            "slug",
            "first",
            "numbers",
            "location",
            *AGENT_FIELDS,
            "version",
            "created_at",
            "updated_at",
        )

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_numbers(self, row: Receptionist) -> list[str]:
        return sorted(p.e164 for p in row.numbers.all())

    @extend_schema_field(serializers.BooleanField())
    def get_first(self, row: Receptionist) -> bool:
        return row.pk == self.context.get("first_id")


def _rows(clinic: Any) -> Any:
    return Receptionist.objects.for_clinic(clinic).order_by("id").prefetch_related("numbers")


def _out(clinic: Any, rows: Any, *, many: bool = False) -> Any:
    first_id = Receptionist.objects.for_clinic(clinic).order_by("id").values("pk")[:1]
    context = {"first_id": first_id.get()["pk"] if first_id else None}
    return ReceptionistOutput(rows, many=many, context=context).data


RECEPTIONIST_ID = OpenApiParameter(
    "receptionist_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The receptionist's id."
)
MOVE_TO = OpenApiParameter(
    "move_to",
    OpenApiTypes.INT,
    description="The receptionist who takes over its numbers (default: the clinic's first "
    "other receptionist).",
)


class ReceptionistListApi(ClinicApiView):
    @extend_schema(
        operation_id="receptionists_list",
        responses={200: ReceptionistOutput(many=True), **errors(*READ_ERRORS)},
    )
    def get(self, request: Request, slug: str) -> Response:
        clinic = self.clinic(request)
        return Response(_out(clinic, _rows(clinic), many=True))

    @extend_schema(
        operation_id="receptionists_add",
        request=ReceptionistCreateInput,
        responses={201: ReceptionistOutput, **errors(*WRITE_ERRORS)},
    )
    def post(self, request: Request, slug: str) -> Response:
        clinic = self.clinic(request)
        data = ReceptionistCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        location = location_of(clinic, fields.pop("location", None))
        with transaction.atomic():
            row = receptionist_create(clinic=clinic, **fields)
            if location is not None:
                receptionist_location_set(receptionist=row, location=location)
        return Response(_out(clinic, _rows(clinic).get(pk=row.pk)), status=status.HTTP_201_CREATED)


class ReceptionistDetailApi(ClinicApiView):
    def _get(self, request: Request, receptionist_id: int) -> Receptionist:
        row: Receptionist | None = _rows(self.clinic(request)).filter(pk=receptionist_id).first()
        if row is None:
            raise Http404("No such receptionist in this clinic.")
        return row

    @extend_schema(
        operation_id="receptionists_retrieve",
        parameters=[RECEPTIONIST_ID],
        responses={200: ReceptionistOutput, **errors(*READ_ERRORS)},
    )
    def get(self, request: Request, slug: str, receptionist_id: int) -> Response:
        return Response(_out(self.clinic(request), self._get(request, receptionist_id)))

    @extend_schema(
        operation_id="receptionists_update",
        parameters=[RECEPTIONIST_ID],
        request=ReceptionistInput,
        responses={200: ReceptionistOutput, **errors(*WRITE_ERRORS)},
    )
    def patch(self, request: Request, slug: str, receptionist_id: int) -> Response:
        """Fields left out keep their value; every change bumps the receptionist's version."""
        clinic = self.clinic(request)
        row = self._get(request, receptionist_id)
        current = _out(clinic, row)
        data = ReceptionistInput(data=request.data, context={"current": current})
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        given = "location" in fields
        location = location_of(clinic, fields.pop("location", None))
        with transaction.atomic():
            receptionist_update(receptionist=row, **fields)
            if given:
                receptionist_location_set(receptionist=row, location=location)
        return Response(_out(clinic, self._get(request, receptionist_id)))

    @extend_schema(
        operation_id="receptionists_remove",
        parameters=[RECEPTIONIST_ID, MOVE_TO],
        responses={204: None, **errors(*WRITE_ERRORS)},
    )
    def delete(self, request: Request, slug: str, receptionist_id: int) -> Response:
        """Delete a receptionist; its numbers move to `move_to`. A clinic keeps at least one
        receptionist (400 for the last)."""
        clinic = self.clinic(request)
        row = self._get(request, receptionist_id)
        raw = request.query_params.get("move_to", "").strip()
        move_to = receptionist_of(clinic, raw, field="move_to") if raw else None
        receptionist_delete(receptionist=row, move_to=move_to)
        return Response(status=status.HTTP_204_NO_CONTENT)
