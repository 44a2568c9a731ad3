"""A clinic's numbers, carrier settings, agent settings and provisioning (design.md §7).

Every view resolves the clinic through ClinicPermission (outsiders 404, viewers may only
read) and calls one service; services raise ValidationError naming the field, which the
exception handler turns into a 400.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from telephony import services
from telephony.api.serializers import (
    AcceptedOutput,
    AgentInput,
    AgentOutput,
    NumberInput,
    NumberOutput,
    ProvisioningOutput,
    TrunkSettingsInput,
    TrunkSettingsOutput,
)
from telephony.models import AgentConfig, PhoneNumber, Provisioning, TrunkSettings
from telephony.validators import normalize_e164
from tenants.access import MANAGE, ClinicPermission
from tenants.models import Clinic


class ClinicApi(APIView):
    permission_classes = (IsAuthenticated, ClinicPermission)

    def clinic(self, request: Request) -> Clinic:
        return request.clinic


class NumberListApi(ClinicApi):
    @extend_schema(responses={200: NumberOutput(many=True)})
    def get(self, request: Request, slug: str) -> Response:
        numbers = PhoneNumber.objects.for_clinic(self.clinic(request))
        return Response(NumberOutput(numbers, many=True).data)

    @extend_schema(request=NumberInput, responses={201: NumberOutput})
    def post(self, request: Request, slug: str) -> Response:
        data = NumberInput(data=request.data)
        data.is_valid(raise_exception=True)
        phone = services.phone_number_add(
            clinic=self.clinic(request),
            number=data.validated_data["e164"],
            label=data.validated_data["label"],
        )
        return Response(NumberOutput(phone).data, status=status.HTTP_201_CREATED)


class NumberDetailApi(ClinicApi):
    @extend_schema(responses={204: None})
    def delete(self, request: Request, slug: str, e164: str) -> Response:
        try:
            number = normalize_e164(e164)
        except ValidationError:
            raise Http404("No such number.") from None
        if not PhoneNumber.objects.for_clinic(self.clinic(request)).filter(e164=number).exists():
            raise Http404("No such number.")
        services.phone_number_remove(clinic=self.clinic(request), e164=number)
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


class TrunkSettingsApi(ClinicApi):
    @extend_schema(responses={200: TrunkSettingsOutput})
    def get(self, request: Request, slug: str) -> Response:
        ts, _ = TrunkSettings.objects.get_or_create(clinic=self.clinic(request))
        return Response(_trunk_out(ts))

    @extend_schema(request=TrunkSettingsInput, responses={200: TrunkSettingsOutput})
    def put(self, request: Request, slug: str) -> Response:
        """Fields left out keep their value; a blank password keeps the stored one."""
        data = TrunkSettingsInput(data=request.data)
        data.is_valid(raise_exception=True)
        ts = services.trunk_settings_update(clinic=self.clinic(request), **data.validated_data)
        return Response(_trunk_out(ts))


class AgentApi(ClinicApi):
    @extend_schema(responses={200: AgentOutput})
    def get(self, request: Request, slug: str) -> Response:
        return Response(AgentOutput(AgentConfig.objects.get(clinic=self.clinic(request))).data)

    @extend_schema(request=AgentInput, responses={200: AgentOutput})
    def put(self, request: Request, slug: str) -> Response:
        """Fields left out keep their value; every change bumps the config version."""
        data = AgentInput(data=request.data)
        data.is_valid(raise_exception=True)
        config = services.agent_config_update(clinic=self.clinic(request), **data.validated_data)
        return Response(AgentOutput(config).data)


def _accepted(clinic: Clinic, detail: str) -> Response:
    state = Provisioning.objects.values_list("state", flat=True).get(clinic=clinic)
    return Response({"state": state, "detail": detail}, status=status.HTTP_202_ACCEPTED)


class GoLiveApi(ClinicApi):
    @extend_schema(request=None, responses={202: AcceptedOutput})
    def post(self, request: Request, slug: str) -> Response:
        clinic = self.clinic(request)
        services.clinic_go_live(clinic=clinic, actor=request.user)
        return _accepted(clinic, "Provisioning has started.")


class OffboardApi(ClinicApi):
    clinic_permission = MANAGE

    @extend_schema(request=None, responses={202: AcceptedOutput})
    def post(self, request: Request, slug: str) -> Response:
        clinic = self.clinic(request)
        services.clinic_offboard(clinic=clinic, actor=request.user)
        return _accepted(clinic, "The clinic's LiveKit objects are being removed.")


class RetryApi(ClinicApi):
    @extend_schema(request=None, responses={202: AcceptedOutput})
    def post(self, request: Request, slug: str) -> Response:
        clinic = self.clinic(request)
        services.provisioning_retry(clinic=clinic, actor=request.user)
        return _accepted(clinic, "Provisioning will be retried now.")


class ProvisioningApi(ClinicApi):
    @extend_schema(responses={200: ProvisioningOutput})
    def get(self, request: Request, slug: str) -> Response:
        prov = Provisioning.objects.select_related("clinic").get(clinic=self.clinic(request))
        return Response(ProvisioningOutput(prov).data)
