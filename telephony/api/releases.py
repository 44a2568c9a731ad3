"""/api/v1/clinics/{slug}/carrier/releases/ (release, list), .../releases/{id}/ (read one)
and .../releases/{id}/retry/: giving a number Switchboard bought back to the carrier
(telephony/number_releases.py, docs/decisions/0165).

A release needs ``"confirm_release": true``: the number leaves the clinic's carrier account
for good. The same number again answers the release underway or done (200); nothing is
released twice. Numbers the clinic brought itself are refused (remove them instead).
"""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from telephony import number_releases as releasing
from telephony.models import NumberRelease
from tenants.api.base import READ_ERRORS, WRITE_ERRORS, ClinicApiView, errors
from tenants.api.serializers import StrictBooleanField, StrictCharField, StrictSerializer


class ReleaseInput(StrictSerializer):
    e164 = StrictCharField(max_length=40, help_text="A number Switchboard bought for the clinic.")
    confirm_release = StrictBooleanField(
        required=False,
        default=False,
        help_text="Must be true: the number goes back to the carrier and cannot be recovered.",
    )


class ReleaseOutput(serializers.Serializer):
    id = serializers.UUIDField()
    e164 = serializers.CharField()
    provider = serializers.CharField()
    purchase = serializers.UUIDField(source="purchase_id", help_text="The purchase it undoes.")
    state = serializers.ChoiceField(
        choices=NumberRelease.State.values,
        help_text="pending: being released; released: gone from the carrier account; "
        "failed: still in the account, see `status_message`, then retry.",
    )
    status_message = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


def _one(view: ClinicApiView, request: Request, release_id: Any) -> NumberRelease:
    release = NumberRelease.objects.for_clinic(view.clinic(request)).filter(pk=release_id).first()
    if release is None:
        raise Http404("No such release in this clinic.")
    return release


class ReleaseListApi(ClinicApiView):
    @extend_schema(
        operation_id="carrier_releases_list",
        responses={200: ReleaseOutput(many=True), **errors(*READ_ERRORS)},
    )
    def get(self, request: Request, slug: str) -> Response:
        releases = NumberRelease.objects.for_clinic(self.clinic(request))[:100]
        return Response(ReleaseOutput(releases, many=True).data)

    @extend_schema(
        operation_id="carrier_release",
        request=ReleaseInput,
        responses={201: ReleaseOutput, 200: ReleaseOutput, **errors(*WRITE_ERRORS)},
    )
    def post(self, request: Request, slug: str) -> Response:
        data = ReleaseInput(data=request.data)
        data.is_valid(raise_exception=True)
        values: dict[str, Any] = data.validated_data
        release, created = releasing.release_start(
            clinic=self.clinic(request),
            number=values["e164"],
            confirm_release=values["confirm_release"],
            actor=request.user,
        )
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(ReleaseOutput(release).data, status=code)


class ReleaseDetailApi(ClinicApiView):
    @extend_schema(
        operation_id="carrier_release_retrieve",
        responses={200: ReleaseOutput, **errors(*READ_ERRORS)},
    )
    def get(self, request: Request, slug: str, release_id: Any) -> Response:
        return Response(ReleaseOutput(_one(self, request, release_id)).data)


class ReleaseRetryApi(ClinicApiView):
    @extend_schema(
        operation_id="carrier_release_retry",
        request=None,
        responses={200: ReleaseOutput, **errors(*WRITE_ERRORS)},
    )
    def post(self, request: Request, slug: str, release_id: Any) -> Response:
        release = _one(self, request, release_id)
        release = releasing.release_retry(
            clinic=self.clinic(request), release_id=release.pk, actor=request.user
        )
        return Response(ReleaseOutput(release).data)
