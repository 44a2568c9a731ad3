"""A clinic's carrier side at Twilio: its Elastic SIP trunk, the trunk's origination URLs
(where Twilio sends the calls: the clinic's LiveKit SIP URI) and the numbers attached to it.

Every operation is one or two calls through ``TwilioCarrier._call`` (so errors are
classified the same way); deleting what is already gone succeeds. A number is attached only
after a fresh read of its ``trunk_sid``: on another trunk it is a ``CarrierConflictError``,
never moved (Twilio itself would move it without a word).
"""

from __future__ import annotations

from typing import Any

from telephony.carriers.base import AccountNumber, CarrierTrunk, Origination, attachable
from telephony.carriers.errors import (
    CarrierNotFoundError,
)
from telephony.carriers.twilio import TwilioCarrier


def _trunk(remote: Any) -> CarrierTrunk:
    return CarrierTrunk(str(remote.sid), remote.friendly_name or "", remote.domain_name or "")


def _origination(remote: Any) -> Origination:
    return Origination(
        str(remote.sid), str(remote.sip_url), int(remote.priority), int(remote.weight)
    )


class TwilioTrunking:
    def __init__(self, carrier: TwilioCarrier) -> None:
        self.carrier = carrier
        self.api = carrier.client.trunking.v1

    # -- trunks -----------------------------------------------------------------------------
    def trunks(self) -> list[CarrierTrunk]:
        listed = self.carrier._call(lambda: self.api.trunks.list(page_size=1000))
        return [_trunk(t) for t in listed]

    def create_trunk(self, *, marker: str, domain: str) -> CarrierTrunk:
        """A taken domain name is a ``CarrierRejectedError`` with code 21248: the caller
        looks for its own trunk (a lost reply) or counts the incarnation up."""
        created = self.carrier._call(
            lambda: self.api.trunks.create(friendly_name=marker, domain_name=domain)
        )
        return _trunk(created)

    def delete_trunk(self, trunk_id: str) -> None:
        try:
            self.carrier._call(lambda: self.api.trunks(trunk_id).delete())
        except CarrierNotFoundError:
            return

    # -- origination URLs --------------------------------------------------------------------
    def originations(self, trunk_id: str) -> list[Origination]:
        listed = self.carrier._call(
            lambda: self.api.trunks(trunk_id).origination_urls.list(page_size=1000)
        )
        found = [_origination(u) for u in listed]
        return sorted(found, key=lambda o: (o.priority, o.uri))  # the order Twilio tries them

    def add_origination(
        self, trunk_id: str, *, uri: str, priority: int, weight: int, name: str
    ) -> Origination:
        created = self.carrier._call(
            lambda: self.api.trunks(trunk_id).origination_urls.create(
                weight=weight, priority=priority, enabled=True, friendly_name=name, sip_url=uri
            )
        )
        return _origination(created)

    def remove_origination(self, trunk_id: str, origination_id: str) -> None:
        try:
            self.carrier._call(
                lambda: self.api.trunks(trunk_id).origination_urls(origination_id).delete()
            )
        except CarrierNotFoundError:
            return

    # -- numbers -----------------------------------------------------------------------------
    def number(self, e164: str) -> AccountNumber | None:
        """A fresh read of one number of the account."""
        return next((n for n in self.carrier.numbers(e164) if n.e164 == e164), None)

    def attach(self, trunk_id: str, e164: str) -> AccountNumber:
        number = attachable(self.number(e164), e164, trunk_id, carrier="Twilio", holder="trunk")
        if number.attached_to == trunk_id:
            return number
        self.carrier._call(
            lambda: self.api.trunks(trunk_id).phone_numbers.create(
                phone_number_sid=number.carrier_id
            )
        )
        return AccountNumber(e164, number.carrier_id, trunk_id, number.usable, number.why_not)

    def detach(self, trunk_id: str, e164: str) -> None:
        """Only from this trunk: a number that moved elsewhere meanwhile is left alone."""
        number = self.number(e164)
        if number is None or number.attached_to != trunk_id:
            return
        try:
            self.carrier._call(
                lambda: self.api.trunks(trunk_id).phone_numbers(number.carrier_id).delete()
            )
        except CarrierNotFoundError:
            return
