"""Signup, API tokens and clinics (design.md §7)."""

from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError
from django.utils.decorators import method_decorator
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tenants.access import ClinicPermission
from tenants.api.serializers import (
    ClinicCreateInput,
    ClinicOutput,
    ClinicUpdateInput,
    SignupInput,
    SignupOutput,
    TokenInput,
    TokenOutput,
    roles_for,
)
from tenants.limits import login_account_limit, login_ip_limit, refuse_if_locked, signup_limit
from tenants.models import Clinic
from tenants.services import clinic_create, clinic_update, user_signup

_TIMEZONES = available_timezones()


def _check_timezone(value: str | None) -> None:
    if value is not None and value not in _TIMEZONES:
        raise ValidationError({"timezone": "Use an IANA time zone name, e.g. Europe/London."})


@method_decorator(signup_limit, name="post")
class SignupApi(APIView):
    """Create an account and its clinic; the caller becomes the clinic's owner."""

    permission_classes = (AllowAny,)
    authentication_classes = ()

    @extend_schema(request=SignupInput, responses={201: SignupOutput})
    def post(self, request: Request) -> Response:
        data = SignupInput(data=request.data)
        data.is_valid(raise_exception=True)
        user, clinic = user_signup(**data.validated_data)
        token, _ = Token.objects.get_or_create(user=user)
        out = SignupOutput(
            {"user": user, "clinic": clinic, "token": token.key},
            context={"roles": roles_for(user)},
        )
        return Response(out.data, status=status.HTTP_201_CREATED)


@method_decorator([login_ip_limit, login_account_limit], name="post")
class TokenApi(APIView):
    """Exchange an email and password for the API token (header `Authorization: Token …`)."""

    permission_classes = (AllowAny,)
    authentication_classes = ()

    @extend_schema(request=TokenInput, responses={200: TokenOutput})
    def post(self, request: Request) -> Response:
        data = TokenInput(data=request.data)
        data.is_valid(raise_exception=True)
        refuse_if_locked(data.validated_data["email"].lower())
        user = authenticate(
            request,
            username=data.validated_data["email"].lower(),
            password=data.validated_data["password"],
        )
        if user is None:
            raise ValidationError("The email or the password is not right.")
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})


class ClinicListApi(APIView):
    permission_classes = (IsAuthenticated,)

    @extend_schema(responses={200: ClinicOutput(many=True)})
    def get(self, request: Request) -> Response:
        clinics = Clinic.objects.for_user(request.user).exclude(state=Clinic.State.OFFBOARDED)
        out = ClinicOutput(clinics, many=True, context={"roles": roles_for(request.user)})
        return Response(out.data)

    @extend_schema(request=ClinicCreateInput, responses={201: ClinicOutput})
    def post(self, request: Request) -> Response:
        data = ClinicCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        _check_timezone(data.validated_data["timezone"])
        clinic = clinic_create(
            owner=request.user,
            name=data.validated_data["name"],
            timezone_name=data.validated_data["timezone"],
        )
        out = ClinicOutput(clinic, context={"roles": roles_for(request.user)})
        return Response(out.data, status=status.HTTP_201_CREATED)


class ClinicDetailApi(APIView):
    permission_classes = (IsAuthenticated, ClinicPermission)

    def _out(self, request: Request, clinic: Clinic) -> Response:
        return Response(ClinicOutput(clinic, context={"roles": roles_for(request.user)}).data)

    @extend_schema(responses={200: ClinicOutput})
    def get(self, request: Request, slug: str) -> Response:
        return self._out(request, request.clinic)  # type: ignore[attr-defined]

    @extend_schema(request=ClinicUpdateInput, responses={200: ClinicOutput})
    def patch(self, request: Request, slug: str) -> Response:
        data = ClinicUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values: dict[str, Any] = dict(data.validated_data)
        _check_timezone(values.get("timezone"))
        clinic = clinic_update(
            clinic=Clinic.objects.get(pk=request.clinic.pk),  # type: ignore[attr-defined]
            name=values.get("name"),
            timezone_name=values.get("timezone"),
            room_prefix=values.get("room_prefix"),
        )
        return self._out(request, clinic)
