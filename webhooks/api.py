"""/api/v1/clinics/{slug}/webhook-endpoints/...: a clinic's webhook endpoints over the API.

Owners and admins only, reads included: payloads and the delivery log carry callers' full
numbers and transcripts, which viewers do not see (decision 0030). The secret is in the
answer to POST (create) and rotate-secret only.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from tenants.access import EDIT
from tenants.api.base import WRITE_ERRORS, ClinicApiView, errors
from tenants.api.serializers import (
    StrictBooleanField,
    StrictCharField,
    StrictChoiceField,
    StrictSerializer,
)
from webhooks import services
from webhooks.models import EventType, WebhookAttempt, WebhookDelivery, WebhookEndpoint

MAX_DELIVERIES = 100
ID_PARAM = OpenApiParameter(
    "endpoint_id", str, OpenApiParameter.PATH, description="The endpoint's id (a UUID)."
)


class EndpointInput(StrictSerializer):
    url = StrictCharField(max_length=services.MAX_URL_LENGTH)
    events = serializers.ListField(
        child=StrictChoiceField(choices=EventType.choices), allow_empty=False, max_length=20
    )
    enabled = StrictBooleanField(default=True)


class EndpointPatch(EndpointInput):
    """PATCH: fields left out keep their value; what a GET returned may be sent back."""

    echo_fields = (
        "id",
        "disabled_reason",
        "failing_since",
        "secret_rotated_until",
        "created_at",
        "updated_at",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, partial=True, **kwargs)


class EndpointOutput(serializers.ModelSerializer):
    secret_rotated_until = serializers.DateTimeField(
        source="previous_secret_until", allow_null=True
    )

    class Meta:
        model = WebhookEndpoint
        fields: tuple[str, ...] = (
            "id",
            "url",
            "events",
            "enabled",
            "disabled_reason",
            "failing_since",
            "secret_rotated_until",
            "created_at",
            "updated_at",
        )


class EndpointWithSecret(EndpointOutput):
    secret = serializers.SerializerMethodField()

    class Meta(EndpointOutput.Meta):
        fields = (*EndpointOutput.Meta.fields, "secret")

    def get_secret(self, endpoint: WebhookEndpoint) -> str:
        return str(self.context["secret"])


class SecretOutput(serializers.Serializer):
    secret = serializers.CharField()
    previous_secret_valid_until = serializers.DateTimeField()


class AttemptOutput(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = ("at", "status_code", "latency_ms", "error", "response_excerpt")


class DeliveryOutput(serializers.ModelSerializer):
    webhook_id = serializers.CharField(source="event.webhook_id")
    type = serializers.CharField(source="event.type")
    payload = serializers.JSONField(source="event.payload")
    attempt_log = AttemptOutput(many=True)

    class Meta:
        model = WebhookDelivery
        fields = (
            "id",
            "webhook_id",
            "type",
            "status",
            "attempts",
            "next_attempt_at",
            "last_status_code",
            "last_latency_ms",
            "last_error",
            "created_at",
            "finished_at",
            "payload",
            "attempt_log",
        )


class WebhookApiView(ClinicApiView):
    clinic_permission = EDIT

    def endpoint(self, request: Request, endpoint_id: str) -> WebhookEndpoint:
        try:
            key = uuid.UUID(str(endpoint_id))
        except ValueError:
            raise Http404("No such webhook endpoint in this clinic.") from None
        found = WebhookEndpoint.objects.filter(clinic=self.clinic(request), pk=key).first()
        if found is None:
            raise Http404("No such webhook endpoint in this clinic.")
        return found


class EndpointListApi(WebhookApiView):
    @extend_schema(
        operation_id="webhook_endpoints_list",
        responses={200: EndpointOutput(many=True), **errors(401, 403, 404)},
    )
    def get(self, request: Request, slug: str) -> Response:
        rows = WebhookEndpoint.objects.filter(clinic=self.clinic(request))
        return Response(EndpointOutput(rows, many=True).data)

    @extend_schema(
        operation_id="webhook_endpoints_create",
        request=EndpointInput,
        responses={201: EndpointWithSecret, **errors(*WRITE_ERRORS)},
    )
    def post(self, request: Request, slug: str) -> Response:
        data = EndpointInput(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint, secret = services.endpoint_create(
            clinic=self.clinic(request),
            url=data.validated_data["url"],
            chosen=data.validated_data["events"],
            enabled=data.validated_data["enabled"],
        )
        body = EndpointWithSecret(endpoint, context={"secret": secret}).data
        return Response(body, status=status.HTTP_201_CREATED)


class EndpointDetailApi(WebhookApiView):
    @extend_schema(
        operation_id="webhook_endpoint_retrieve",
        parameters=[ID_PARAM],
        responses={200: EndpointOutput, **errors(401, 403, 404)},
    )
    def get(self, request: Request, slug: str, endpoint_id: str) -> Response:
        return Response(EndpointOutput(self.endpoint(request, endpoint_id)).data)

    @extend_schema(
        operation_id="webhook_endpoint_update",
        parameters=[ID_PARAM],
        request=EndpointPatch,
        responses={200: EndpointOutput, **errors(*WRITE_ERRORS)},
    )
    def patch(self, request: Request, slug: str, endpoint_id: str) -> Response:
        endpoint = self.endpoint(request, endpoint_id)
        current = EndpointOutput(endpoint).data
        data = EndpointPatch(data=request.data, context={"current": current})
        data.is_valid(raise_exception=True)
        changes = {k: v for k, v in data.validated_data.items() if k in request.data}
        # Only what differs: a GET sent back unchanged changes nothing, not even updated_at.
        changes = {k: v for k, v in changes.items() if v != getattr(endpoint, k)}
        services.endpoint_update(endpoint=endpoint, **changes)
        return Response(EndpointOutput(endpoint).data)

    @extend_schema(
        operation_id="webhook_endpoint_delete",
        parameters=[ID_PARAM],
        responses={204: None, **errors(401, 403, 404)},
    )
    def delete(self, request: Request, slug: str, endpoint_id: str) -> Response:
        services.endpoint_delete(endpoint=self.endpoint(request, endpoint_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class RotateSecretApi(WebhookApiView):
    @extend_schema(
        operation_id="webhook_endpoint_rotate_secret",
        parameters=[ID_PARAM],
        request=None,
        responses={200: SecretOutput, **errors(401, 403, 404)},
    )
    def post(self, request: Request, slug: str, endpoint_id: str) -> Response:
        endpoint = self.endpoint(request, endpoint_id)
        secret = services.endpoint_rotate_secret(endpoint=endpoint)
        return Response(
            {"secret": secret, "previous_secret_valid_until": endpoint.previous_secret_until}
        )


class SendTestApi(WebhookApiView):
    @extend_schema(
        operation_id="webhook_endpoint_test",
        parameters=[ID_PARAM],
        request=None,
        responses={202: DeliveryOutput, **errors(*WRITE_ERRORS)},
    )
    def post(self, request: Request, slug: str, endpoint_id: str) -> Response:
        delivery = services.endpoint_send_test(endpoint=self.endpoint(request, endpoint_id))
        return Response(DeliveryOutput(delivery).data, status=status.HTTP_202_ACCEPTED)


class DeliveryListApi(WebhookApiView):
    @extend_schema(
        operation_id="webhook_deliveries_list",
        parameters=[ID_PARAM],
        responses={200: DeliveryOutput(many=True), **errors(401, 403, 404)},
    )
    def get(self, request: Request, slug: str, endpoint_id: str) -> Response:
        endpoint = self.endpoint(request, endpoint_id)
        rows = (
            WebhookDelivery.objects.filter(endpoint=endpoint)
            .select_related("event")
            .prefetch_related("attempt_log")
            .order_by("-created_at", "-id")[:MAX_DELIVERIES]
        )
        return Response(DeliveryOutput(rows, many=True).data)


class ResendApi(WebhookApiView):
    @extend_schema(
        operation_id="webhook_delivery_resend",
        parameters=[ID_PARAM],
        request=None,
        responses={202: DeliveryOutput, **errors(*WRITE_ERRORS)},
    )
    def post(self, request: Request, slug: str, endpoint_id: str, delivery_id: int) -> Response:
        endpoint = self.endpoint(request, endpoint_id)
        found = WebhookDelivery.objects.filter(endpoint=endpoint, pk=delivery_id).first()
        if found is None:
            raise Http404("No such delivery for this endpoint.")
        delivery = services.delivery_resend(delivery=found)
        return Response(DeliveryOutput(delivery).data, status=status.HTTP_202_ACCEPTED)
