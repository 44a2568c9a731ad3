"""DRF exception handler: Django ValidationErrors from services become 400 field errors."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django_ratelimit.exceptions import Ratelimited
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from telephony.services import ProvisioningError
from tenants.ratelimit import LIMITED_MESSAGE


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            data: Any = {k: [m for e in v for m in e.messages] for k, v in exc.error_dict.items()}
        else:
            data = {"non_field_errors": exc.messages}
        return Response(data, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Ratelimited):
        message = getattr(exc, "message", None) or LIMITED_MESSAGE
        return Response({"detail": message}, status=429, headers={"Retry-After": "60"})
    if isinstance(exc, ProvisioningError):
        return Response({exc.field: [exc.message]}, status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)
