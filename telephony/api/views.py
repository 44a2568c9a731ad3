"""A clinic's numbers, carrier settings, agent settings and provisioning (design.md §7).

Every view resolves the clinic through ClinicPermission (outsiders 404; viewers may only
read; offboarding is for owners) and calls one service; services raise ValidationError
naming the field, which the exception handler turns into a 400.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from telephony import services
from telephony.api.serializers import (
    AcceptedOutput,
    AgentInput,
    AgentOutput,
    NumberInput,
    NumberOutput,
    NumberPatchInput,
    ProvisioningOutput,
    TrunkSettingsInput,
    TrunkSettingsOutput,
)
from telephony.models import PhoneNumber, Provisioning, Receptionist, TrunkSettings
from telephony.receptionists import phone_number_assign
from telephony.validators import normalize_e164
from tenants.access import MANAGE
from tenants.api.base import READ_ERRORS, WRITE_ERRORS, ClinicApiView, errors
from tenants.api.serializers import StrictBooleanField, StrictSerializer
from tenants.models import Clinic

E164_PARAM = OpenApiParameter(
    "e164",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="The number in E.164 with the + URL-encoded, e.g. %2B14155550100.",
)


class NumberListApi(ClinicApiView):
    @extend_schema(
        operation_id="numbers_list",
        responses={200: NumberOutput(many=True), **errors(*READ_ERRORS)},
    )
    def get(self, request: Request, slug: str) -> Response:
        numbers = PhoneNumber.objects.for_clinic(self.clinic(request))
        return Response(NumberOutput(numbers, many=True).data)

    @extend_schema(
        operation_id="numbers_add",
        request=NumberInput,
        responses={201: NumberOutput, **errors(*WRITE_ERRORS)},
    )
    def post(self, request: Request, slug: str) -> Response:
        """Add a number (normalised to E.164; a number belongs to one clinic only)."""
        data = NumberInput(data=request.data)
        data.is_valid(raise_exception=True)
        phone = services.phone_number_add(
            clinic=self.clinic(request),
            number=data.validated_data["e164"],
            label=data.validated_data["label"],
            receptionist=data.validated_data["receptionist"],
        )
        return Response(NumberOutput(phone).data, status=status.HTTP_201_CREATED)


class NumberDetailApi(ClinicApiView):
    def _number(self, clinic: Clinic, e164: str) -> PhoneNumber:
        try:
            number = normalize_e164(e164)
        except ValidationError:
            raise Http404("No such number in this clinic.") from None
        phone = PhoneNumber.objects.for_clinic(clinic).filter(e164=number).first()
        if phone is None:
            raise Http404("No such number in this clinic.")
        return phone

    @extend_schema(
        operation_id="numbers_update",
        parameters=[E164_PARAM],
        request=NumberPatchInput,
        responses={200: NumberOutput, **errors(*WRITE_ERRORS)},
    )
    def patch(self, request: Request, slug: str, e164: str) -> Response:
        """Choose the receptionist who answers the number (one of this clinic's)."""
        clinic = self.clinic(request)
        phone = self._number(clinic, e164)
        data = NumberPatchInput(data=request.data, context={"current": NumberOutput(phone).data})
        data.is_valid(raise_exception=True)
        phone = phone_number_assign(
            clinic=clinic, e164=phone.e164, receptionist=data.validated_data["receptionist"]
        )
        return Response(NumberOutput(phone).data)

    @extend_schema(
        operation_id="numbers_remove",
        parameters=[E164_PARAM],
        responses={204: None, **errors(*WRITE_ERRORS)},
    )
    def delete(self, request: Request, slug: str, e164: str) -> Response:
        """Remove a number; a live clinic must keep at least one (400 otherwise)."""
        clinic = self.clinic(request)
        phone = self._number(clinic, e164)
        services.phone_number_remove(clinic=clinic, e164=phone.e164)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _trunk_out(ts: TrunkSettings) -> dict[str, object]:
    return TrunkSettingsOutput(
        {
            "allowed_addresses": ts.allowed_addresses,
            "auth_username": ts.auth_username,
            "auth_password_set": bool(ts.auth_password),
            "krisp_enabled": ts.krisp_enabled,
        }
    ).data


class TrunkSettingsApi(ClinicApiView):
    @extend_schema(
        operation_id="trunk_settings_retrieve",
        responses={200: TrunkSettingsOutput, **errors(*READ_ERRORS)},
    )
    def get(self, request: Request, slug: str) -> Response:
        ts, _ = TrunkSettings.objects.get_or_create(clinic=self.clinic(request))
        return Response(_trunk_out(ts))

    @extend_schema(
        operation_id="trunk_settings_update",
        request=TrunkSettingsInput,
        responses={200: TrunkSettingsOutput, **errors(*WRITE_ERRORS)},
    )
    def put(self, request: Request, slug: str) -> Response:
        """Fields left out keep their value; a blank or absent password keeps the stored one."""
        ts, _ = TrunkSettings.objects.get_or_create(clinic=self.clinic(request))
        data = TrunkSettingsInput(data=request.data, context={"current": _trunk_out(ts)})
        data.is_valid(raise_exception=True)
        ts = services.trunk_settings_update(clinic=self.clinic(request), **data.validated_data)
        return Response(_trunk_out(ts))


class AgentApi(ClinicApiView):
    @extend_schema(
        operation_id="agent_retrieve", responses={200: AgentOutput, **errors(*READ_ERRORS)}
    )
    def get(self, request: Request, slug: str) -> Response:
        config = Receptionist.objects.first_of(self.clinic(request))
        return Response(AgentOutput(config).data)

    @extend_schema(
        operation_id="agent_update",
        request=AgentInput,
        responses={200: AgentOutput, **errors(*WRITE_ERRORS)},
    )
    def put(self, request: Request, slug: str) -> Response:
        """Fields left out keep their value; every change bumps the config version."""
        config = Receptionist.objects.first_of(self.clinic(request))
        data = AgentInput(data=request.data, context={"current": AgentOutput(config).data})
        data.is_valid(raise_exception=True)
        config = services.agent_config_update(clinic=self.clinic(request), **data.validated_data)
        return Response(AgentOutput(config).data)


def _accepted(clinic: Clinic, detail: str) -> Response:
    state = Provisioning.objects.for_clinic(clinic).values_list("state", flat=True).get()
    return Response(
        AcceptedOutput({"state": state, "detail": detail}).data, status=status.HTTP_202_ACCEPTED
    )


class GoLiveApi(ClinicApiView):
    @extend_schema(
        operation_id="clinic_go_live",
        request=None,
        responses={202: AcceptedOutput, **errors(*WRITE_ERRORS)},
    )
    def post(self, request: Request, slug: str) -> Response:
        """Put the clinic live: provisioning runs in the background (poll provisioning/)."""
        clinic = self.clinic(request)
        services.clinic_go_live(clinic=clinic, actor=request.user)
        return _accepted(clinic, "Provisioning has started.")


class OffboardInput(StrictSerializer):
    release_bought_numbers = StrictBooleanField(
        required=False,
        default=False,
        help_text="true: also release every number Switchboard bought for the clinic (it "
        "goes back to the carrier and cannot be recovered). Without it they stay in the "
        "carrier account and keep costing money.",
    )


class OffboardApi(ClinicApiView):
    clinic_permission = MANAGE

    @extend_schema(
        operation_id="clinic_offboard",
        request=OffboardInput,
        responses={202: AcceptedOutput, **errors(*WRITE_ERRORS)},
    )
    def post(self, request: Request, slug: str) -> Response:
        """Owner only: delete the clinic's LiveKit objects and its carrier trunk."""
        data = OffboardInput(data=request.data if request.data else {})
        data.is_valid(raise_exception=True)
        clinic = self.clinic(request)
        services.clinic_offboard(clinic=clinic, actor=request.user)
        if data.validated_data["release_bought_numbers"]:
            from telephony.number_releases import release_bought_on_offboarding

            release_bought_on_offboarding(clinic=clinic, actor=request.user)
        return _accepted(clinic, "The clinic's LiveKit objects are being removed.")


class RetryApi(ClinicApiView):
    @extend_schema(
        operation_id="provisioning_retry",
        request=None,
        responses={202: AcceptedOutput, **errors(*WRITE_ERRORS)},
    )
    def post(self, request: Request, slug: str) -> Response:
        """Retry provisioning now (after a failure, or instead of waiting for the backoff)."""
        clinic = self.clinic(request)
        services.provisioning_retry(clinic=clinic, actor=request.user)
        return _accepted(clinic, "Provisioning will be retried now.")


class ProvisioningApi(ClinicApiView):
    @extend_schema(
        operation_id="provisioning_retrieve",
        responses={200: ProvisioningOutput, **errors(*READ_ERRORS)},
    )
    def get(self, request: Request, slug: str) -> Response:
        prov = Provisioning.objects.for_clinic(self.clinic(request)).select_related("clinic").get()
        return Response(ProvisioningOutput(prov).data)
