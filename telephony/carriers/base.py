"""What the platform sees of a carrier account, whichever the carrier."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from telephony.carriers.errors import (
    CarrierConflictError,
    CarrierNumberError,
    CarrierTransientError,
)

T = TypeVar("T")


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
    limiter: Any  # the account's rate limiter (telephony.ratelimit), or None

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
    # Telnyx: the connection's primary and secondary FQDN ids (its inbound routing order);
    # Twilio orders its origination URLs by their priority instead.
    primary_origination: str = ""
    secondary_origination: str = ""


@dataclass(frozen=True)
class Origination:
    """Where the carrier sends the calls: a SIP URI (Twilio origination URL) or an FQDN and
    port (Telnyx), with its priority and weight where the carrier has them."""

    origination_id: str
    uri: str
    priority: int = 10
    weight: int = 10


def attachable(
    number: AccountNumber | None, e164: str, trunk_id: str, *, carrier: str, holder: str
) -> AccountNumber:
    """A fresh read of ``e164``, checked before it is attached to ``trunk_id`` (it may be
    already): raises when it is not the account's, cannot take calls, or is attached to
    another ``holder`` (a trunk, a connection), which Switchboard never takes over. The one
    check behind both carriers' ``attach``."""
    if number is None:
        raise CarrierNumberError(f"{e164} is not a number of this {carrier} account.")
    if not number.usable:
        raise CarrierNumberError(f"{e164}: {number.why_not}")
    if number.attached_to and number.attached_to != trunk_id:
        raise CarrierConflictError(
            f"{e164} already sends its calls to another {holder} in your {carrier} account "
            f"({number.attached_to}). Switchboard does not take it over: change it there, "
            "or remove the number here, then press Retry."
        )
    return number


def paced(limiter: Any, call: Callable[[], T]) -> T:
    """One request through the carrier account's rate limiter (telephony.ratelimit), if
    it has one: a token first, and a 429's Retry-After pauses the account for everyone."""
    if limiter is not None:
        from telephony.ratelimit import RateLimited

        try:
            limiter.acquire()
        except RateLimited as exc:
            raise CarrierTransientError(
                "Too many requests to this carrier account right now; retrying.",
                code="carrier_rate_limit",
                retry_after=exc.wait,
            ) from None
    try:
        return call()
    except CarrierTransientError as exc:
        if limiter is not None and exc.retry_after:
            limiter.block_for(exc.retry_after)
        raise
