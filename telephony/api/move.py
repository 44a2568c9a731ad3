"""/api/v1/clinics/{slug}/move/: a move of the clinic's phone line to another LiveKit
project as the clinic sees it (GET), and .../move/carrier-confirmed/ (POST): the clinic's
carrier, configured by hand, now sends calls to the new SIP URI (decision 0131)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from telephony.models import ProjectMove
from telephony.move_status import clinic_confirms_carrier, move_status
from tenants.api.base import READ_ERRORS, WRITE_ERRORS, ClinicApiView, errors


class MoveOutput(serializers.Serializer):
    moving = serializers.BooleanField(help_text="A move of the clinic's phone line is under way.")
    state = serializers.ChoiceField(
        choices=[s for s in ProjectMove.State.values if s in ProjectMove.OPEN],
        allow_null=True,
        help_text="provisioning and verifying: being set up and tested at the new address; "
        "awaiting_carrier: the carrier must send calls to new_sip_uri; deleting: the old "
        "address is being removed.",
    )
    waiting_for_you = serializers.BooleanField(
        help_text="Point your carrier at new_sip_uri, then POST .../move/carrier-confirmed/."
    )
    automatic = serializers.BooleanField(
        help_text="Your carrier account is connected: Switchboard repoints it itself."
    )
    new_sip_uri = serializers.CharField(allow_blank=True)
    old_sip_uri = serializers.CharField(allow_blank=True)
    numbers = serializers.ListField(child=serializers.CharField())
    sentence = serializers.CharField(allow_blank=True, help_text="What is happening, in words.")


NOT_MOVING: dict[str, Any] = {
    "moving": False,
    "state": None,
    "waiting_for_you": False,
    "automatic": False,
    "new_sip_uri": "",
    "old_sip_uri": "",
    "numbers": [],
    "sentence": "",
}


def _out(clinic: Any) -> dict[str, Any]:
    status = move_status(clinic)
    if status is None:
        return dict(MoveOutput(NOT_MOVING).data)
    return dict(MoveOutput({"moving": True, **asdict(status)}).data)


class MoveApi(ClinicApiView):
    @extend_schema(
        operation_id="move_retrieve",
        tags=["provisioning"],
        summary="Get a move of the phone line",
        description="Whether the clinic's phone line is moving to another server (`moving`), "
        "the step (`state`), and when `waiting_for_you` is true the `new_sip_uri` your carrier "
        "must send calls for `numbers` to; the old address answers until then. A connected "
        "carrier account is repointed by Switchboard itself (`automatic`).",
        responses={200: MoveOutput, **errors(*READ_ERRORS)},
    )
    def get(self, request: Request, slug: str) -> Response:
        return Response(_out(self.clinic(request)))


class MoveCarrierConfirmedApi(ClinicApiView):
    @extend_schema(
        operation_id="move_carrier_confirmed",
        tags=["provisioning"],
        summary="Confirm the carrier uses the new address",
        description="Say that your carrier now sends calls to `new_sip_uri` (when "
        "`waiting_for_you`). The move goes on by itself: a last test call at the new address, "
        "then the old one is removed. Refused (400, field `move`) with a sentence when nothing "
        "waits for it.",
        request=None,
        responses={200: MoveOutput, **errors(*WRITE_ERRORS)},
    )
    def post(self, request: Request, slug: str) -> Response:
        """Your carrier now sends calls for your numbers to `new_sip_uri`. The move goes on:
        a last test call at the new address, then the old one is removed. A 400 (field
        `move`) says why when nothing waits for this confirmation."""
        clinic = self.clinic(request)
        clinic_confirms_carrier(clinic=clinic, actor=request.user)
        return Response(_out(clinic))
