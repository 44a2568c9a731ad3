"""What every API view shares: authentication, the clinic resolver and the error shapes.

Token authentication comes first so an anonymous request gets 401 with
`WWW-Authenticate: Token` (DRF answers with the first authenticator's header); session
authentication stays for the web app's own fetch() calls, with CSRF enforced by DRF.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.views import APIView

from tenants.access import ClinicPermission
from tenants.api.auth import ApiTokenAuthentication
from tenants.api.serializers import ErrorOutput
from tenants.models import Clinic, Membership


class ApiView(APIView):
    authentication_classes: tuple[type[BaseAuthentication], ...] = (
        ApiTokenAuthentication,
        SessionAuthentication,
    )
    permission_classes: tuple[type[BasePermission], ...] = (IsAuthenticated,)


class ClinicApiView(ApiView):
    """A view under /clinics/{slug}/: ClinicPermission resolves the clinic (404 for
    outsiders, 403 for a role that may not do this) before the handler runs."""

    permission_classes = (IsAuthenticated, ClinicPermission)

    def clinic(self, request: Request) -> Clinic:
        clinic: Clinic = request.clinic  # set by ClinicPermission
        return clinic

    def membership(self, request: Request) -> Membership:
        membership: Membership = request.membership  # set by ClinicPermission
        return membership


_RESPONSES = {
    400: OpenApiResponse(
        response=OpenApiTypes.OBJECT,
        description="Invalid input: each offending field (or `non_field_errors`) maps to a "
        "list of sentences saying what to fix.",
        examples=[
            OpenApiExample(
                "Field errors",
                value={"e164": ["Start with + and the country code, e.g. +14155550100."]},
                response_only=True,
                status_codes=["400"],
            )
        ],
    ),
    401: OpenApiResponse(ErrorOutput, description="No or invalid credentials."),
    403: OpenApiResponse(ErrorOutput, description="Your role in this clinic does not allow it."),
    404: OpenApiResponse(
        ErrorOutput, description="No such clinic, or you are not one of its members."
    ),
    429: OpenApiResponse(
        ErrorOutput,
        description="Too many requests, or too many failed sign-ins: wait (see Retry-After).",
    ),
}


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    """The documented error responses for an operation."""
    return {code: _RESPONSES[code] for code in codes}


READ_ERRORS = (401, 404)
WRITE_ERRORS = (400, 401, 403, 404)
