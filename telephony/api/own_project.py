"""/api/v1/clinics/{slug}/livekit-project/: the clinic's own LiveKit project (decision
0132). GET reads it (never a secret), PUT connects or updates it (checked with one read
call first; the clinic is then moved into it), DELETE moves the clinic back to a project of
the platform. Owners and admins only: it is the clinic's infrastructure."""

from __future__ import annotations

from typing import Any, ClassVar

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from telephony.own_project import (
    OwnProjectInput,
    own_project_connect,
    own_project_disconnect,
    own_project_status,
)
from tenants.access import EDIT
from tenants.api.base import WRITE_ERRORS, ClinicApiView, errors
from tenants.api.serializers import StrictCharField, StrictSerializer

WRITE_ONLY = "Write-only: never returned; leave it out to keep the stored one."


class OwnProjectInputSerializer(StrictSerializer):
    echo_fields = ("allowed", "connected", "state", "name", "move_detail")
    echo_hints: ClassVar[dict[str, str]] = {
        "allowed": "Switchboard support sets it",
        "state": "it follows the move of your phone line",
    }

    url = StrictCharField(
        max_length=300,
        allow_blank=True,
        help_text="The server URL, as LiveKit shows it (wss://….livekit.cloud).",
    )
    api_key = StrictCharField(
        max_length=200, allow_blank=True, help_text="An API key with the SIP admin grant."
    )
    api_secret = StrictCharField(
        max_length=200, required=False, allow_blank=True, write_only=True, help_text=WRITE_ONLY
    )
    sip_uri = StrictCharField(
        max_length=300, allow_blank=True, help_text="The project's SIP URI (sip:….)."
    )
    webhook_key = StrictCharField(
        max_length=200,
        required=False,
        allow_blank=True,
        help_text="The API key the project signs its webhooks with (empty: api_key).",
    )
    webhook_secret = StrictCharField(
        max_length=200, required=False, allow_blank=True, write_only=True, help_text=WRITE_ONLY
    )


class OwnProjectOutput(serializers.Serializer):
    allowed = serializers.BooleanField(help_text="The clinic's plan includes its own project.")
    connected = serializers.BooleanField()
    state = serializers.ChoiceField(
        choices=["none", "moving_in", "in_use", "moving_out", "not_in_use"],
        help_text="moving_in / moving_out: the phone line is being moved (see GET .../move/).",
    )
    name = serializers.CharField(allow_blank=True)
    url = serializers.CharField(allow_blank=True)
    api_key = serializers.CharField(allow_blank=True)
    sip_uri = serializers.CharField(allow_blank=True)
    webhook_key = serializers.CharField(allow_blank=True)
    move_detail = serializers.CharField(allow_blank=True)


def _out(clinic: Any) -> dict[str, Any]:
    return dict(OwnProjectOutput(own_project_status(clinic)).data)


class OwnProjectApi(ClinicApiView):
    clinic_permission = EDIT  # reading shows the project's URL and key: admins only

    @extend_schema(
        operation_id="own_project_retrieve",
        tags=["provisioning"],
        summary="Get your own LiveKit project",
        description="Whether your plan allows a LiveKit project of your own (`allowed`), and "
        "the one you connected: its server URL, API key, SIP URI and webhook key (never a "
        "secret), and whether your phone line is in it (`state`).",
        responses={200: OwnProjectOutput, **errors(401, 403, 404)},
    )
    def get(self, request: Request, slug: str) -> Response:
        return Response(_out(self.clinic(request)))

    @extend_schema(
        operation_id="own_project_connect",
        tags=["provisioning"],
        summary="Connect your own LiveKit project",
        description="Give the server URL, API key and secret and SIP URI of your LiveKit "
        "project. They are checked with one read call first (400 naming the field: refused "
        "credentials, unreachable, not a LiveKit server). Your phone line is then moved into "
        "it without dropping calls; point your carrier at its SIP URI when GET .../move/ asks. "
        "Sent again, it updates the stored values (a secret left out is kept).",
        request=OwnProjectInputSerializer,
        responses={200: OwnProjectOutput, **errors(*WRITE_ERRORS)},
    )
    def put(self, request: Request, slug: str) -> Response:
        clinic = self.clinic(request)
        data = OwnProjectInputSerializer(data=request.data, context={"current": _out(clinic)})
        data.is_valid(raise_exception=True)
        v = data.validated_data
        current = _out(clinic)
        shown = ("url", "api_key", "sip_uri", "webhook_key")
        secrets = v.get("api_secret") or v.get("webhook_secret")
        if not secrets and all(v.get(k, current[k]) == current[k] for k in shown):
            return Response(current)  # what a GET gave, sent back: nothing changes
        own_project_connect(
            clinic=clinic,
            values=OwnProjectInput(
                url=v.get("url", ""),
                api_key=v.get("api_key", ""),
                api_secret=v.get("api_secret", ""),
                sip_uri=v.get("sip_uri", ""),
                webhook_key=v.get("webhook_key", ""),
                webhook_secret=v.get("webhook_secret", ""),
            ),
            actor=request.user,
        )
        return Response(_out(clinic))

    @extend_schema(
        operation_id="own_project_disconnect",
        tags=["provisioning"],
        summary="Stop using your own LiveKit project",
        description="Move your phone line back to a project of Switchboard's, without "
        "dropping calls; your project is no longer used once the move is done.",
        responses={200: OwnProjectOutput, **errors(*WRITE_ERRORS)},
    )
    def delete(self, request: Request, slug: str) -> Response:
        clinic = self.clinic(request)
        own_project_disconnect(clinic=clinic, actor=request.user)
        return Response(_out(clinic))
