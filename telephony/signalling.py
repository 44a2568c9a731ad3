"""Where carriers send SIP signalling from: the address ranges a clinic that configures its
carrier by hand lists under "Calls accepted from" (its LiveKit trunk's allowed addresses).

Facts copied from the carriers' public pages on the date below; carriers change them, so
the guide and docs/carriers.md name the page to check. Twilio asks to allow every region's
range (a call may come from another region when one is down); Telnyx lists two addresses
per region. LiveKit Cloud publishes host names, not fixed SIP addresses: carriers reach it
by the SIP URI's host name, so nothing of LiveKit's needs listing at the carrier for calls
coming in.
"""

from __future__ import annotations

from dataclasses import dataclass

CHECKED = "December 2026"
TWILIO_SOURCE = "https://www.twilio.com/docs/sip-trunking/ip-addresses"
TELNYX_SOURCE = "https://sip.telnyx.com"


@dataclass(frozen=True)
class SignallingRange:
    region: str  # as people say it
    edge: str  # the carrier's own name for the location
    addresses: tuple[str, ...]


TWILIO: tuple[SignallingRange, ...] = (
    SignallingRange("North America (Virginia)", "ashburn, us1", ("54.172.60.0/30",)),
    SignallingRange("North America (Oregon)", "umatilla, us2", ("54.244.51.0/30",)),
    SignallingRange("Europe (Ireland)", "dublin, ie1", ("54.171.127.192/30",)),
    SignallingRange("Europe (Frankfurt)", "frankfurt, de1", ("35.156.191.128/30",)),
    SignallingRange("Asia Pacific (Tokyo)", "tokyo, jp1", ("54.65.63.192/30",)),
    SignallingRange("Asia Pacific (Singapore)", "singapore, sg1", ("54.169.127.128/30",)),
    SignallingRange("Asia Pacific (Sydney)", "sydney, au1", ("54.252.254.64/30",)),
    SignallingRange("South America (São Paulo)", "sao-paulo, br1", ("177.71.206.192/30",)),
)

TELNYX: tuple[SignallingRange, ...] = (
    SignallingRange("United States", "US", ("192.76.120.10", "64.16.250.10")),
    SignallingRange("Europe", "EU", ("5.172.39.10", "5.172.39.25")),
    SignallingRange("Canada", "CA", ("193.108.220.10", "193.108.220.25")),
    SignallingRange("Australia", "AU", ("103.135.104.10", "103.135.104.25")),
)


def every_address(ranges: tuple[SignallingRange, ...]) -> list[str]:
    """All of a carrier's addresses, one per line as "Calls accepted from" takes them."""
    return [a for r in ranges for a in r.addresses]
