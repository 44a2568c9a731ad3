"""Buying a number in the clinic's carrier account, whichever the carrier: searching what is
on sale, placing the purchase, and finding out afterwards whether a purchase whose reply was
lost went through (docs/decisions/0110).

A buyer (``twilio_buying.TwilioBuyer``, ``telnyx_buying.TelnyxBuyer``) wraps a carrier
client; every call goes through the client's ``_call`` (its rate limiter and error
classification).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

# The kinds of number a search can ask for; what a carrier sells depends on the country
# (Twilio: no mobile numbers in the US).
LOCAL, TOLL_FREE, MOBILE = "local", "toll_free", "mobile"
KINDS = {LOCAL: "Local", TOLL_FREE: "Toll-free", MOBILE: "Mobile"}


@dataclass(frozen=True)
class OnSale:
    """A number the carrier offers. ``monthly_cost`` is the carrier's price as it gives it
    (a decimal string) with ``currency``; empty when the search does not say (Twilio)."""

    e164: str
    locality: str = ""
    region: str = ""
    monthly_cost: str = ""
    currency: str = ""


@dataclass(frozen=True)
class Bought:
    """The outcome of a purchase at the carrier. ``complete`` is False while the carrier
    still finishes it (a Telnyx number order that is not ``success`` yet); ``failed`` says
    the carrier gave up on it (a failed order), in its words."""

    e164: str
    carrier_id: str
    order_id: str = ""
    complete: bool = True
    failed: str = ""


class Buyer(Protocol):
    def on_sale(
        self, *, country: str, area_code: str, contains: str, limit: int, kind: str = LOCAL
    ) -> list[OnSale]:
        """Numbers of ``kind`` on sale. Raises CarrierNotFoundError when the carrier sells
        no numbers of that kind in the country (Twilio answers 404)."""
        ...

    def buy(self, *, e164: str, reference: str) -> Bought:
        """Place the purchase. Raises CarrierError; a lost reply is a transient error and
        says nothing about whether the number was bought."""
        ...

    def find(self, *, e164: str, reference: str, order_id: str) -> Bought | None:
        """The purchase as the carrier has it now (the account owns the number, or an order
        with this reference exists), or None when it was not placed."""
        ...

    def owned(self, *, e164: str) -> str:
        """The number's ID in the account now, or "" when the account does not have it."""
        ...

    def release(self, *, carrier_id: str) -> None:
        """Release the number (it leaves the account for good). Raises CarrierNotFoundError
        when the account has no number with that ID (released already)."""
        ...
