"""/api/v1/clinics/{slug}/carrier/available-numbers/ (search) and .../carrier/purchases/
(buy, list, read one): buying a new number in the clinic's connected carrier account
(telephony/number_purchases.py, docs/carriers.md).

A purchase needs ``"confirm_cost": true``; the same ``Idempotency-Key`` (header, or
``idempotency_key`` in the body) or a number already being bought answers the existing
purchase with 200 instead of 201, and nothing is bought twice.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from telephony import number_purchases as buying
from telephony.models import NumberPurchase
from tenants.access import EDIT
from tenants.api.base import READ_ERRORS, WRITE_ERRORS, ClinicApiView, errors
from tenants.api.serializers import StrictBooleanField, StrictCharField, StrictSerializer


class OnSaleOutput(serializers.Serializer):
    e164 = serializers.CharField()
    locality = serializers.CharField(help_text="Town or rate centre, when the carrier says.")
    region = serializers.CharField(help_text="State or province, when the carrier says.")
    monthly_cost = serializers.CharField(
        help_text="The carrier's monthly price as it quotes it; empty when the search does "
        "not say (Twilio): see the carrier's price list."
    )
    currency = serializers.CharField()


class PurchaseInput(StrictSerializer):
    e164 = StrictCharField(max_length=40, help_text="The number to buy, from the search.")
    confirm_cost = StrictBooleanField(
        required=False,
        default=False,
        help_text="Must be true: the carrier charges the clinic's account for the number.",
    )
    idempotency_key = StrictCharField(
        max_length=100,
        required=False,
        allow_blank=True,
        help_text="Instead of the Idempotency-Key header.",
    )
    monthly_cost = StrictCharField(
        max_length=20, required=False, allow_blank=True, help_text="The price the search showed."
    )
    currency = StrictCharField(max_length=3, required=False, allow_blank=True)


class PurchaseOutput(serializers.Serializer):
    id = serializers.UUIDField()
    e164 = serializers.CharField()
    provider = serializers.CharField()
    state = serializers.ChoiceField(
        choices=NumberPurchase.State.values,
        help_text="pending: being bought; bought: in the account (and added to the clinic's "
        "numbers when `added`); failed: not bought, see `status_message`; released: given "
        "back to the carrier (carrier/releases/).",
    )
    added = serializers.BooleanField()
    status_message = serializers.CharField()
    idempotency_key = serializers.CharField()
    carrier_id = serializers.CharField(help_text="The number's ID at the carrier, once bought.")
    monthly_cost = serializers.CharField()
    currency = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


KEY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="The same on every retry of one purchase: a repeat never buys twice.",
)
SEARCH_PARAMS = [
    OpenApiParameter("country", OpenApiTypes.STR, required=True, description="e.g. US"),
    OpenApiParameter("area_code", OpenApiTypes.STR, description="e.g. 415"),
    OpenApiParameter("contains", OpenApiTypes.STR, description="digits, * for any digit"),
    OpenApiParameter(
        "number_type",
        OpenApiTypes.STR,
        enum=["local", "toll_free", "mobile"],
        description="local (the default), toll_free or mobile; what is on sale depends on the "
        "carrier and the country (Twilio sells no mobile numbers in the US).",
    ),
]


class AvailableNumbersApi(ClinicApiView):
    clinic_permission = EDIT  # it uses the clinic's carrier credentials

    @extend_schema(
        operation_id="carrier_available_numbers",
        parameters=SEARCH_PARAMS,
        responses={200: OnSaleOutput(many=True), **errors(400, 401, 403, 404)},
    )
    def get(self, request: Request, slug: str) -> Response:
        params = request.query_params
        search = buying.parse_search(
            country=params.get("country", ""),
            area_code=params.get("area_code", ""),
            contains=params.get("contains", ""),
            number_type=params.get("number_type", ""),
        )
        found = buying.search_numbers(clinic=self.clinic(request), search=search)
        return Response(OnSaleOutput(found, many=True).data)


class PurchaseListApi(ClinicApiView):
    @extend_schema(
        operation_id="carrier_purchases_list",
        responses={200: PurchaseOutput(many=True), **errors(*READ_ERRORS)},
    )
    def get(self, request: Request, slug: str) -> Response:
        purchases = NumberPurchase.objects.for_clinic(self.clinic(request))[:100]
        return Response(PurchaseOutput(purchases, many=True).data)

    @extend_schema(
        operation_id="carrier_purchase",
        request=PurchaseInput,
        parameters=[KEY_HEADER],
        responses={201: PurchaseOutput, 200: PurchaseOutput, **errors(*WRITE_ERRORS)},
    )
    def post(self, request: Request, slug: str) -> Response:
        data = PurchaseInput(data=request.data)
        data.is_valid(raise_exception=True)
        values: dict[str, Any] = data.validated_data
        key = request.headers.get("Idempotency-Key") or values.get("idempotency_key", "")
        purchase, created = buying.purchase_start(
            clinic=self.clinic(request),
            number=values["e164"],
            confirm_cost=values["confirm_cost"],
            idempotency_key=key,
            monthly_cost=values.get("monthly_cost", ""),
            currency=values.get("currency", ""),
            actor=request.user,
        )
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(PurchaseOutput(purchase).data, status=code)


class PurchaseDetailApi(ClinicApiView):
    @extend_schema(
        operation_id="carrier_purchase_retrieve",
        responses={200: PurchaseOutput, **errors(*READ_ERRORS)},
    )
    def get(self, request: Request, slug: str, purchase_id: Any) -> Response:
        purchase = (
            NumberPurchase.objects.for_clinic(self.clinic(request)).filter(pk=purchase_id).first()
        )
        if purchase is None:
            raise Http404("No such purchase in this clinic.")
        return Response(PurchaseOutput(purchase).data)
