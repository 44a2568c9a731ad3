"""Buying a number at Twilio: ``AvailablePhoneNumbers/{country}/Local`` (``/TollFree``,
``/Mobile``) to search, then
``IncomingPhoneNumbers`` create with the chosen ``PhoneNumber``. Twilio's purchase is
synchronous: the created number is the account's at once. Whether a purchase whose reply
was lost went through is read back with the ``PhoneNumber`` filter of the account's list."""

from __future__ import annotations

from typing import Any

from telephony.carriers.buying import LOCAL, MOBILE, TOLL_FREE, Bought, OnSale
from telephony.carriers.errors import CarrierError, CarrierRejectedError
from telephony.carriers.twilio import TwilioCarrier

# Twilio's codes for a purchase it refuses, in plain words for the clinic admin.
REFUSALS = {
    "21422": "That number is no longer for sale at Twilio (someone else took it). Search "
    "again and pick another one.",
    "21421": "Twilio says that is not a valid phone number.",
    "10002": "Your Twilio account is a trial account, which can own only one number. Upgrade "
    "it in the Twilio Console, then buy again.",
    "20005": "Twilio says your account is not active, usually because it has run out of "
    "funds. Add funds in the Twilio Console, then buy again.",
}


def refusal(exc: CarrierError) -> str:
    """The sentence for a purchase Twilio refused (its own words for an unknown code)."""
    return REFUSALS.get(exc.code, exc.message)


class TwilioBuyer:
    def __init__(self, carrier: TwilioCarrier) -> None:
        self.carrier = carrier
        self.client = carrier.client

    def on_sale(
        self, *, country: str, area_code: str, contains: str, limit: int, kind: str = LOCAL
    ) -> list[OnSale]:
        filters: dict[str, Any] = {"voice_enabled": True, "limit": limit, "page_size": limit}
        if area_code:
            filters["area_code"] = int(area_code)
        if contains:
            filters["contains"] = contains
        country_numbers = self.client.available_phone_numbers(country)
        # AvailablePhoneNumbers/{country}/Local, /TollFree or /Mobile
        kinds = {
            LOCAL: country_numbers.local,
            TOLL_FREE: country_numbers.toll_free,
            MOBILE: country_numbers.mobile,
        }
        of_kind = kinds[kind]
        listed = self.carrier._call(lambda: of_kind.list(**filters))
        return [
            OnSale(
                e164=str(n.phone_number),
                locality=str(n.locality or ""),
                region=str(n.region or ""),
            )
            for n in listed
        ]

    def buy(self, *, e164: str, reference: str) -> Bought:
        try:
            created = self.carrier._call(
                lambda: self.client.incoming_phone_numbers.create(
                    phone_number=e164, friendly_name=reference[:64]
                )
            )
        except CarrierRejectedError as exc:
            raise CarrierRejectedError(refusal(exc), status=exc.status, code=exc.code) from None
        return Bought(e164=str(created.phone_number), carrier_id=str(created.sid))

    def owned(self, *, e164: str) -> str:
        return next((n.carrier_id for n in self.carrier.numbers(e164) if n.e164 == e164), "")

    def release(self, *, carrier_id: str) -> None:
        """DELETE IncomingPhoneNumbers/{PN}: 204, or 404 (20404) when it is gone."""
        self.carrier._call(lambda: self.client.incoming_phone_numbers(carrier_id).delete())

    def find(self, *, e164: str, reference: str, order_id: str) -> Bought | None:
        for number in self.carrier.numbers(e164):
            if number.e164 == e164:
                return Bought(e164=e164, carrier_id=number.carrier_id)
        return None
