"""/api/v1/clinics/{slug}/carrier/: connect (PUT), read (GET) and disconnect (DELETE) the
clinic's carrier account; .../carrier/numbers/ lists the account's numbers;
.../carrier/confirmation/ is "I've configured my carrier" for clinics that set it up by hand
(docs/carriers.md). The GET says whether the clinic is still waiting for its carrier.

Credentials are write-only: no response ever contains one. A PUT without any credential
keeps the stored ones (so a GET sent back changes nothing); with one, they are checked at
the carrier before anything is saved.
"""

from __future__ import annotations

from typing import Any, ClassVar

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from telephony import carrier_services as carriers
from telephony.carrier_readiness import carrier_readiness
from telephony.models import CarrierAccount, Provisioning, TrunkSettings
from tenants.api.base import READ_ERRORS, WRITE_ERRORS, ClinicApiView, errors
from tenants.api.serializers import (
    StrictBooleanField,
    StrictCharField,
    StrictChoiceField,
    StrictSerializer,
)

SECRET_HELP = "Write-only: never returned."  # noqa: S105 - a help text


def _secret(help_text: str) -> StrictCharField:
    return StrictCharField(
        max_length=200,
        required=False,
        allow_blank=True,
        write_only=True,
        help_text=f"{help_text} {SECRET_HELP}",
    )


class CarrierInput(StrictSerializer):
    echo_fields = (
        "state",
        "trunk_id",
        "account",
        "status_message",
        "connected_at",
        "numbers_checked_at",
        "numbers",
        "waiting_for_carrier",
        "confirmed_by_hand",
        "confirmed_at",
        "readiness",
    )
    echo_hints: ClassVar[dict[str, str]] = {
        "state": "it is the connection's state; send new credentials to fix rejected ones",
    }

    provider = StrictChoiceField(choices=list(carriers.PROVIDERS))
    account_sid = StrictCharField(
        max_length=40, required=False, allow_blank=True, help_text="Twilio: the account SID (AC…)."
    )
    auth_token = _secret("Twilio: the account's auth token (or give an API key instead).")
    api_key_sid = StrictCharField(
        max_length=40, required=False, allow_blank=True, help_text="Twilio: an API key SID (SK…)."
    )
    api_key_secret = _secret("Twilio: the API key's secret.")
    api_key = _secret("Telnyx: an API v2 key.")


class CarrierNumberOutput(serializers.Serializer):
    e164 = serializers.CharField()
    in_account = serializers.BooleanField(
        help_text="The carrier account owns this number (as last read)."
    )
    attached = serializers.BooleanField(help_text="Attached to the clinic's trunk/connection.")
    attached_elsewhere = serializers.BooleanField(
        help_text="Attached to another trunk/connection of the account: never taken over."
    )


class ReadinessOutput(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=["connected", "confirmed", "first_call", "setting_up", "failed", "waiting"],
        help_text="connected: set up by Switchboard; confirmed: set up by the clinic and "
        "confirmed; first_call: a real call arrived; waiting: calls cannot arrive yet.",
    )
    label = serializers.CharField(
        help_text="A few words for people, e.g. 'Waiting for your carrier'."
    )
    sentence = serializers.CharField(help_text="What it means and what to do, in plain words.")
    ready = serializers.BooleanField(help_text="Calls from the carrier can arrive.")
    answering = serializers.BooleanField(
        help_text="Proven: set up by Switchboard, or a real call arrived."
    )


class CarrierOutput(serializers.Serializer):
    provider = serializers.ChoiceField(choices=list(carriers.PROVIDERS), allow_null=True)
    state = serializers.ChoiceField(
        choices=["not_connected", *CarrierAccount.State.values],
        help_text="not_connected: the clinic configures its carrier by hand.",
    )
    account = serializers.CharField(required=False, help_text="The account SID, never a secret.")
    trunk_id = serializers.CharField(
        required=False,
        help_text="The clinic's trunk (Twilio) or connection (Telnyx) that Switchboard set up; "
        "empty until provisioning has made it.",
    )
    status_message = serializers.CharField(required=False)
    connected_at = serializers.DateTimeField(required=False)
    numbers_checked_at = serializers.DateTimeField(required=False, allow_null=True)
    numbers = CarrierNumberOutput(many=True)
    waiting_for_carrier = serializers.BooleanField(
        help_text="True while calls cannot reach the clinic because its carrier is neither "
        "set up by Switchboard nor confirmed by hand, and no real call has arrived."
    )
    confirmed_by_hand = serializers.BooleanField(
        help_text="The clinic said it configured its carrier itself (carrier/confirmation/)."
    )
    confirmed_at = serializers.DateTimeField(allow_null=True)
    readiness = ReadinessOutput()


class ConfirmationInput(StrictSerializer):
    echo_fields = ("confirmed_at", "waiting_for_carrier")
    echo_hints: ClassVar[dict[str, str]] = {
        "confirmed_at": "it is when the clinic confirmed; send confirmed instead",
        "waiting_for_carrier": "it follows from confirmed, a connected account or a real call",
    }

    confirmed = StrictBooleanField(
        help_text="true: \"I've configured my carrier\" (it sends my numbers' calls to my "
        "SIP URI); false: take it back."
    )


class ConfirmationOutput(serializers.Serializer):
    confirmed = serializers.BooleanField()
    confirmed_at = serializers.DateTimeField(allow_null=True)
    waiting_for_carrier = serializers.BooleanField()


class AccountNumberOutput(serializers.Serializer):
    e164 = serializers.CharField()
    usable = serializers.BooleanField(help_text="Voice-capable and active.")
    why_not = serializers.CharField(help_text="Why a number is not usable, in plain words.")
    attached_elsewhere = serializers.BooleanField()
    chosen = serializers.BooleanField(help_text="One of the clinic's numbers already.")


def _out(clinic: Any) -> dict[str, Any]:
    status_ = carriers.carrier_status(clinic=clinic)
    ts = TrunkSettings.objects.filter(clinic=clinic).first()
    prov = Provisioning.objects.filter(clinic=clinic).first() or Provisioning(clinic=clinic)
    readiness = carrier_readiness(clinic=clinic, provisioning=prov, trunk_settings=ts)
    confirmed_at = ts.carrier_confirmed_at if ts is not None else None
    status_.update(
        waiting_for_carrier=not readiness.ready,
        confirmed_by_hand=confirmed_at is not None,
        confirmed_at=confirmed_at,
        readiness=readiness.as_dict(),
    )
    return dict(CarrierOutput(status_).data)


class CarrierApi(ClinicApiView):
    @extend_schema(
        operation_id="carrier_retrieve", responses={200: CarrierOutput, **errors(*READ_ERRORS)}
    )
    def get(self, request: Request, slug: str) -> Response:
        return Response(_out(self.clinic(request)))

    @extend_schema(
        operation_id="carrier_connect",
        request=CarrierInput,
        responses={200: CarrierOutput, **errors(*WRITE_ERRORS)},
    )
    def put(self, request: Request, slug: str) -> Response:
        """Connect Twilio (`account_sid` with `auth_token`, or with `api_key_sid` and
        `api_key_secret`) or Telnyx (`api_key`). The credentials are checked at the carrier
        first; a refusal is a 400 naming the field. Without any credential, the stored ones
        are kept."""
        clinic = self.clinic(request)
        data = CarrierInput(data=request.data, context={"current": _out(clinic)})
        data.is_valid(raise_exception=True)
        values = data.validated_data
        secrets = [values.get(k, "") for k in ("auth_token", "api_key_secret", "api_key")]
        current = CarrierAccount.objects.filter(clinic=clinic).first()
        if (
            current is not None
            and current.provider == values["provider"]
            and not any(secrets)
            and not values.get("api_key_sid")
            and values.get("account_sid", current.account_sid) == current.account_sid
        ):
            return Response(_out(clinic))  # nothing new: the stored credentials stay
        creds = carriers.parse_credentials(**values)
        carriers.carrier_connect(clinic=clinic, creds=creds, actor=request.user)
        return Response(_out(clinic))

    @extend_schema(
        operation_id="carrier_disconnect", responses={204: None, **errors(*WRITE_ERRORS)}
    )
    def delete(self, request: Request, slug: str) -> Response:
        """Forget the credentials (the carrier's numbers are never touched)."""
        carriers.carrier_disconnect(clinic=self.clinic(request), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CarrierNumbersApi(ClinicApiView):
    @extend_schema(
        operation_id="carrier_numbers",
        responses={200: AccountNumberOutput(many=True), **errors(400, *READ_ERRORS)},
    )
    def get(self, request: Request, slug: str) -> Response:
        """The carrier account's numbers, read from the carrier now."""
        choices = carriers.account_numbers(clinic=self.clinic(request))
        return Response(AccountNumberOutput(choices, many=True).data)


def _confirmation(clinic: Any) -> dict[str, Any]:
    full = _out(clinic)
    return dict(
        ConfirmationOutput(
            {
                "confirmed": full["confirmed_by_hand"],
                "confirmed_at": full["confirmed_at"],
                "waiting_for_carrier": full["waiting_for_carrier"],
            }
        ).data
    )


class CarrierConfirmationApi(ClinicApiView):
    @extend_schema(
        operation_id="carrier_confirmation",
        responses={200: ConfirmationOutput, **errors(*READ_ERRORS)},
    )
    def get(self, request: Request, slug: str) -> Response:
        return Response(_confirmation(self.clinic(request)))

    @extend_schema(
        operation_id="carrier_confirm",
        request=ConfirmationInput,
        responses={200: ConfirmationOutput, **errors(*WRITE_ERRORS)},
    )
    def put(self, request: Request, slug: str) -> Response:
        """\"I've configured my carrier\" for a clinic that set its carrier up by hand
        (`{"confirmed": true}`), or taking it back (`false`). The dashboard then stops
        waiting for the carrier; "answering calls" still waits for the first real call. A
        clinic whose carrier account is connected has nothing to confirm (400)."""
        clinic = self.clinic(request)
        data = ConfirmationInput(data=request.data, context={"current": _confirmation(clinic)})
        data.is_valid(raise_exception=True)
        confirmed = data.validated_data["confirmed"]
        account = CarrierAccount.objects.filter(clinic=clinic).first()
        if account is not None and confirmed:
            raise serializers.ValidationError(
                {
                    "confirmed": f"Your {account.get_provider_display()} account is connected: "
                    "Switchboard sets your carrier up itself, so there is nothing to confirm. "
                    "Disconnect it first if you configure your carrier yourself."
                }
            )
        carriers.carrier_confirm_by_hand(clinic=clinic, confirmed=confirmed)
        return Response(_confirmation(clinic))
