"""The carriers a clinic can connect (Twilio, Telnyx): the only package that imports their
SDKs. Each client maps the SDK's errors onto ``telephony.carriers.errors`` and knows nothing
about Django models; ``client_for`` builds one from a stored ``CarrierAccount``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings

from telephony.carriers import markers
from telephony.carriers.base import AccountNumber, CarrierClient, CarrierTrunk, Origination
from telephony.carriers.errors import (
    CarrierConflictError,
    CarrierCredentialsError,
    CarrierError,
    CarrierNotFoundError,
    CarrierPermissionError,
    CarrierRejectedError,
    CarrierTransientError,
)

if TYPE_CHECKING:
    from telephony.models import CarrierAccount

__all__ = [
    "AccountNumber",
    "CarrierClient",
    "CarrierConflictError",
    "CarrierCredentialsError",
    "CarrierError",
    "CarrierNotFoundError",
    "CarrierPermissionError",
    "CarrierRejectedError",
    "CarrierTransientError",
    "CarrierTrunk",
    "Origination",
    "client_for",
    "make_client",
    "markers",
]


def make_client(
    provider: str, *, account_sid: str = "", api_key_sid: str = "", secret: str
) -> CarrierClient:
    timeout = float(settings.CARRIER_TIMEOUT_SECONDS)
    if provider == "twilio":
        from telephony.carriers.twilio import TwilioCarrier

        return TwilioCarrier(
            account_sid=account_sid,
            api_key_sid=api_key_sid,
            secret=secret,
            base_url=settings.TWILIO_API_BASE_URL,
            timeout=timeout,
        )
    if provider == "telnyx":
        from telephony.carriers.telnyx import TelnyxCarrier

        return TelnyxCarrier(api_key=secret, base_url=settings.TELNYX_API_BASE_URL, timeout=timeout)
    raise ValueError(f"unknown carrier {provider!r}")


def client_for(account: CarrierAccount) -> CarrierClient:
    return make_client(
        account.provider,
        account_sid=account.account_sid,
        api_key_sid=account.api_key_sid,
        secret=account.secret,
    )
