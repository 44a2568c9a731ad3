"""What the platform sees of a carrier account, whichever the carrier."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class AccountNumber:
    """A number the carrier account owns. ``attached_to`` is the trunk (Twilio) or
    connection (Telnyx) its calls go to, if any; ``usable`` says whether it can take calls
    through a trunk (voice-capable, active), and ``why_not`` says why not in plain words."""

    e164: str
    carrier_id: str
    attached_to: str | None
    usable: bool = True
    why_not: str = ""


class CarrierClient(Protocol):
    name: str

    def check(self) -> None:
        """Prove the credentials work and may manage SIP trunking, with read calls only."""

    def numbers(self) -> list[AccountNumber]:
        """Every number of the account (all pages)."""


@dataclass(frozen=True)
class CarrierTrunk:
    """What routes a clinic's numbers at the carrier: a Twilio Elastic SIP trunk or a Telnyx
    FQDN connection. ``marker`` is the name that says whose it is (``markers.py``);
    ``target`` the domain name (Twilio) or the connection name (Telnyx)."""

    trunk_id: str
    marker: str
    target: str


@dataclass(frozen=True)
class Origination:
    """Where the carrier sends the calls: a SIP URI (Twilio origination URL) or an FQDN and
    port (Telnyx), with its priority and weight where the carrier has them."""

    origination_id: str
    uri: str
    priority: int = 10
    weight: int = 10
