"""Buying a number at Telnyx: ``available_phone_numbers`` to search, then a number order
for the chosen number with our reference as ``customer_reference``. Orders complete
asynchronously (``pending`` then ``success``; the number is ``purchase-pending`` until
then), so a purchase is complete only once its order is ``success`` and its number active.
A purchase whose reply was lost is found by its reference among the account's orders."""

from __future__ import annotations

from typing import Any

from telephony.carriers.buying import LOCAL, Bought, OnSale
from telephony.carriers.errors import CarrierError, CarrierRejectedError
from telephony.carriers.telnyx import TelnyxCarrier

NOT_FOR_SALE = (
    "That number is no longer for sale at Telnyx (someone else took it). Search again and "
    "pick another one."
)
NO_FUNDS = (
    "Telnyx says your account does not have enough funds for this number. Add funds in the "
    "Telnyx Portal, then buy again."
)


def refusal(exc: CarrierError) -> str:
    if exc.code == "20100" or exc.status == 402:
        return NO_FUNDS
    if exc.code in ("10015", "10002") and "available" in exc.message.lower():
        return NOT_FOR_SALE
    return exc.message


def _cost(n: Any) -> tuple[str, str]:
    cost = getattr(n, "cost_information", None)
    if cost is None:
        return "", ""
    return str(cost.monthly_cost or ""), str(cost.currency or "")


def _region(n: Any, kind: str) -> str:
    for info in getattr(n, "region_information", None) or []:
        if info.region_type == kind:
            return str(info.region_name or "")
    return ""


class TelnyxBuyer:
    def __init__(self, carrier: TelnyxCarrier) -> None:
        self.carrier = carrier
        self.client = carrier.client

    def on_sale(
        self, *, country: str, area_code: str, contains: str, limit: int, kind: str = LOCAL
    ) -> list[OnSale]:
        wanted: dict[str, Any] = {
            "country_code": country,
            "features": ["voice"],
            "limit": limit,
            "phone_number_type": kind,  # local, toll_free, mobile: Telnyx's own words
        }
        if area_code:
            wanted["national_destination_code"] = area_code
        if contains:
            wanted["phone_number"] = {"contains": contains}
        found = self.carrier._call(
            lambda: self.client.available_phone_numbers.list(filter=wanted)  # type: ignore[arg-type]
        )
        result = []
        for n in found.data or []:
            monthly, currency = _cost(n)
            result.append(
                OnSale(
                    e164=str(n.phone_number),
                    locality=_region(n, "rate_center").title(),
                    region=_region(n, "state"),
                    monthly_cost=monthly,
                    currency=currency,
                )
            )
        return result

    def _bought(self, order: Any, e164: str) -> Bought:
        number = next(
            (p for p in order.phone_numbers or [] if p.phone_number == e164),
            None,
        )
        status = str(order.status or "")
        return Bought(
            e164=e164,
            carrier_id=str(getattr(number, "id", "") or ""),
            order_id=str(order.id),
            complete=status == "success",
            failed="" if status != "failure" else "Telnyx could not complete the order.",
        )

    def buy(self, *, e164: str, reference: str) -> Bought:
        try:
            order = self.carrier._call(
                lambda: (
                    self.client.number_orders.create(
                        phone_numbers=[{"phone_number": e164}], customer_reference=reference
                    ).data
                )
            )
        except CarrierRejectedError as exc:
            raise CarrierRejectedError(refusal(exc), status=exc.status, code=exc.code) from None
        return self._bought(order, e164)

    def owned(self, *, e164: str) -> str:
        return next((n.carrier_id for n in self.carrier.numbers(e164) if n.e164 == e164), "")

    def release(self, *, carrier_id: str) -> None:
        """DELETE /v2/phone_numbers/{id}: 200, or 404 (10005) when it is gone."""
        self.carrier._call(lambda: self.client.phone_numbers.delete(carrier_id))

    def find(self, *, e164: str, reference: str, order_id: str) -> Bought | None:
        if order_id:
            order = self.carrier._call(lambda: self.client.number_orders.retrieve(order_id).data)
            return self._bought(order, e164)
        orders: list[Any] = self.carrier._call(
            lambda: list(self.client.number_orders.list(filter={"customer_reference": reference}))
        )
        for listed in orders:
            if any(p.phone_number == e164 for p in listed.phone_numbers or []):
                return self._bought(listed, e164)
        return None
