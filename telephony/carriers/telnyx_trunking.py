"""A clinic's carrier side at Telnyx: its FQDN connection (TCP, numbers in +E.164 both
ways), the FQDN it sends calls to (the clinic's LiveKit SIP host) and the numbers assigned
to it. Like twilio_trunking: classified errors, deleting what is gone succeeds, a number on
another connection is a ``CarrierConflictError`` and is never moved."""

from __future__ import annotations

from typing import Any

from telephony.carriers.base import AccountNumber, CarrierTrunk, Origination, attachable
from telephony.carriers.errors import (
    CarrierNotFoundError,
    CarrierTransientError,
)
from telephony.carriers.telnyx import TelnyxCarrier

INBOUND = {"ani_number_format": "+E.164", "dnis_number_format": "+e164"}


def _connection(remote: Any) -> CarrierTrunk:
    inbound = getattr(remote, "inbound", None)
    return CarrierTrunk(
        str(remote.id),
        remote.connection_name or "",
        remote.connection_name or "",
        primary_origination=str(getattr(inbound, "default_primary_fqdn_id", None) or ""),
        secondary_origination=str(getattr(inbound, "default_secondary_fqdn_id", None) or ""),
    )


class TelnyxTrunking:
    def __init__(self, carrier: TelnyxCarrier) -> None:
        self.carrier = carrier
        self.api = carrier.client

    # -- connections -------------------------------------------------------------------------
    def trunks(self) -> list[CarrierTrunk]:
        listed = self.carrier._call(lambda: list(self.api.fqdn_connections.list(page_size=250)))
        return [_connection(c) for c in listed]

    def create_trunk(self, *, marker: str) -> CarrierTrunk:
        created = self.carrier._call(
            lambda: self.api.fqdn_connections.create(
                connection_name=marker,
                transport_protocol="TCP",
                inbound=INBOUND,  # type: ignore[arg-type]
                tags=[marker],
            )
        )
        return _connection(created.data)

    def delete_trunk(self, trunk_id: str) -> None:
        try:
            self.carrier._call(lambda: self.api.fqdn_connections.delete(trunk_id))
        except CarrierNotFoundError:
            return

    # -- where calls go ----------------------------------------------------------------------
    def originations(self, trunk_id: str) -> list[Origination]:
        listed = self.carrier._call(
            lambda: list(self.api.fqdns.list(filter={"connection_id": trunk_id}, page_size=250))
        )
        return [Origination(str(f.id), f"{f.fqdn}:{f.port}") for f in listed]

    def add_origination(self, trunk_id: str, *, host: str, port: int = 5060) -> Origination:
        created = self.carrier._call(
            lambda: self.api.fqdns.create(
                connection_id=trunk_id, fqdn=host, dns_record_type="a", port=port
            )
        ).data
        if created is None:
            raise CarrierTransientError("Telnyx sent a reply that could not be read.")
        return Origination(str(created.id), f"{created.fqdn}:{created.port}")

    def set_routing(self, trunk_id: str, *, primary: str, secondary: str | None) -> None:
        """Which FQDN the connection tries first and which next (inbound routing in
        sequence): ``secondary=None`` leaves no second one."""
        inbound = {
            "default_routing_method": "sequential",
            "default_primary_fqdn_id": primary,
            "default_secondary_fqdn_id": secondary,
        }
        self.carrier._call(
            lambda: self.api.fqdn_connections.update(trunk_id, inbound=inbound)  # type: ignore[arg-type]
        )

    def remove_origination(self, trunk_id: str, origination_id: str) -> None:
        try:
            self.carrier._call(lambda: self.api.fqdns.delete(origination_id))
        except CarrierNotFoundError:
            return

    # -- numbers -----------------------------------------------------------------------------
    def number(self, e164: str) -> AccountNumber | None:
        return next((n for n in self.carrier.numbers(e164) if n.e164 == e164), None)

    def attach(self, trunk_id: str, e164: str) -> AccountNumber:
        number = attachable(
            self.number(e164), e164, trunk_id, carrier="Telnyx", holder="connection"
        )
        if number.attached_to == trunk_id:
            return number
        self.carrier._call(
            lambda: self.api.phone_numbers.update(number.carrier_id, connection_id=trunk_id)
        )
        return AccountNumber(e164, number.carrier_id, trunk_id, number.usable, number.why_not)

    def detach(self, trunk_id: str, e164: str) -> None:
        number = self.number(e164)
        if number is None or number.attached_to != trunk_id:
            return
        try:
            self.carrier._call(
                lambda: self.api.phone_numbers.update(number.carrier_id, connection_id="")
            )
        except CarrierNotFoundError:  # released meanwhile: it is on no connection any more
            return
