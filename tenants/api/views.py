"""Signup, API tokens and clinics (design.md §7).

Each view validates with its input serializer, calls one service and renders with its
output serializer; services raise Django ValidationErrors naming the field, which
tenants.api.exceptions turns into 400s.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from django.utils.decorators import method_decorator
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tenants.api.base import READ_ERRORS, WRITE_ERRORS, ApiView, ClinicApiView, errors
from tenants.api.serializers import (
    ApiTokenInput,
    ApiTokenOutput,
    ClinicCreateInput,
    ClinicOutput,
    ClinicUpdateInput,
    SignupInput,
    SignupOutput,
    TokenInput,
    TokenOutput,
    roles_for,
)
from tenants.api_tokens import api_token_create, api_token_revoke
from tenants.limits import login_account_limit, login_ip_limit, refuse_if_locked, signup_limit
from tenants.models import ApiToken, Clinic
from tenants.services import clinic_create, clinic_update, user_signup
from twofactor.services import is_enrolled
from twofactor.services import verify as verify_code

_TIMEZONES = available_timezones()
BAD_CREDENTIALS = (
    "The email or the password is not right; check both (the password is case-sensitive)."
)


def _check_timezone(value: str | None) -> None:
    if value is not None and value not in _TIMEZONES:
        raise ValidationError(
            {"timezone": "Use an IANA time zone name, e.g. Europe/London or America/New_York."}
        )


@method_decorator(signup_limit, name="post")
class SignupApi(APIView):
    """Create an account and its clinic; the caller becomes the clinic's owner."""

    permission_classes = (AllowAny,)
    authentication_classes = ()

    @extend_schema(
        operation_id="signup",
        request=SignupInput,
        responses={201: SignupOutput, **errors(400, 429)},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = SignupInput(data=request.data)
        data.is_valid(raise_exception=True)
        user, clinic = user_signup(**data.validated_data)
        _, raw = api_token_create(user=user, name="signup")
        out = SignupOutput(
            {"user": user, "clinic": clinic, "token": raw},
            context={"roles": roles_for(user)},
        )
        return Response(out.data, status=status.HTTP_201_CREATED)


@method_decorator([login_ip_limit, login_account_limit], name="post")
class TokenApi(APIView):
    """Exchange an email and password for the API token (header `Authorization: Token …`)."""

    permission_classes = (AllowAny,)
    authentication_classes = ()

    @extend_schema(
        operation_id="auth_token",
        request=TokenInput,
        responses={200: TokenOutput, **errors(400, 429)},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = TokenInput(data=request.data)
        data.is_valid(raise_exception=True)
        refuse_if_locked(data.validated_data["email"].lower(), request._request)
        user = authenticate(
            request._request,
            username=data.validated_data["email"].strip().lower(),
            password=data.validated_data["password"],
        )
        if user is None:
            raise ValidationError(BAD_CREDENTIALS)
        if is_enrolled(user) and verify_code(user, data.validated_data.get("code")) is None:
            # A password alone does not hand out a token once two-factor sign-in is on.
            raise ValidationError(
                {"code": ["Two-factor sign-in is on: send `code` from your authenticator app."]}
            )
        token, raw = api_token_create(
            user=user,
            name=data.validated_data.get("name", "auth/token"),
            days=data.validated_data.get("expires_in_days"),
        )
        return Response(_token_out(token, raw))


def _token_out(token: ApiToken, raw: str) -> Any:
    return TokenOutput(
        {"token": raw, "id": token.pk, "name": token.name, "expires_at": token.expires_at}
    ).data


class ApiTokenListApi(ApiView):
    """The caller's own API tokens (owner = the user; no clinic involved)."""

    @extend_schema(
        operation_id="tokens_list", responses={200: ApiTokenOutput(many=True), **errors(401)}
    )
    def get(self, request: Request) -> Response:
        tokens = ApiToken.objects.filter(user=request.user)
        return Response(ApiTokenOutput(tokens, many=True).data)

    @extend_schema(
        operation_id="tokens_create",
        request=ApiTokenInput,
        responses={201: TokenOutput, **errors(400, 401)},
    )
    def post(self, request: Request) -> Response:
        data = ApiTokenInput(data=request.data)
        data.is_valid(raise_exception=True)
        token, raw = api_token_create(
            user=request.user,
            name=data.validated_data["name"],
            days=data.validated_data.get("expires_in_days"),
        )
        return Response(_token_out(token, raw), status=status.HTTP_201_CREATED)


class ApiTokenDetailApi(ApiView):
    @extend_schema(operation_id="token_revoke", responses={204: None, **errors(401, 404)})
    def delete(self, request: Request, token_id: int) -> Response:
        token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
        api_token_revoke(token=token)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ClinicListApi(ApiView):
    @extend_schema(
        operation_id="clinics_list", responses={200: ClinicOutput(many=True), **errors(401)}
    )
    def get(self, request: Request) -> Response:
        clinics = (
            Clinic.objects.for_user(request.user)
            .exclude(state=Clinic.State.OFFBOARDED)
            .select_related("livekit_project")
        )
        out = ClinicOutput(clinics, many=True, context={"roles": roles_for(request.user)})
        return Response(out.data)

    @extend_schema(
        operation_id="clinics_create",
        request=ClinicCreateInput,
        responses={201: ClinicOutput, **errors(400, 401)},
    )
    def post(self, request: Request) -> Response:
        """Create a clinic; the caller becomes its owner."""
        data = ClinicCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        _check_timezone(data.validated_data["timezone"])
        try:
            clinic = clinic_create(
                owner=request.user,
                name=data.validated_data["name"],
                timezone_name=data.validated_data["timezone"],
                region=data.validated_data.get("region"),
            )
        except ValidationError as exc:  # the service speaks of the signup form's clinic_name
            if hasattr(exc, "error_dict") and "clinic_name" in exc.error_dict:
                exc.error_dict["name"] = exc.error_dict.pop("clinic_name")
            raise
        out = ClinicOutput(clinic, context={"roles": roles_for(request.user)})
        return Response(out.data, status=status.HTTP_201_CREATED)


class ClinicDetailApi(ClinicApiView):
    def _out(self, request: Request, clinic: Clinic) -> Response:
        roles = {clinic.pk: self.membership(request).role}
        return Response(ClinicOutput(clinic, context={"roles": roles}).data)

    @extend_schema(
        operation_id="clinic_retrieve", responses={200: ClinicOutput, **errors(*READ_ERRORS)}
    )
    def get(self, request: Request, slug: str) -> Response:
        return self._out(request, self.clinic(request))

    @extend_schema(
        operation_id="clinic_update",
        request=ClinicUpdateInput,
        responses={200: ClinicOutput, **errors(*WRITE_ERRORS)},
    )
    def patch(self, request: Request, slug: str) -> Response:
        """Change the name, time zone or room prefix (a new prefix re-provisions)."""
        current = self._out(request, self.clinic(request)).data
        data = ClinicUpdateInput(data=request.data, context={"current": current})
        data.is_valid(raise_exception=True)
        values: dict[str, Any] = dict(data.validated_data)
        _check_timezone(values.get("timezone"))
        clinic = clinic_update(
            clinic=self.clinic(request),
            name=values.get("name"),
            timezone_name=values.get("timezone"),
            room_prefix=values.get("room_prefix"),
        )
        return self._out(request, clinic)
