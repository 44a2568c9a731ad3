"""`{% signalling_ranges "twilio" as ranges %}`: a carrier's published signalling addresses
(telephony/signalling.py) for the manual carrier guide."""

from __future__ import annotations

from typing import Any

from django import template

from telephony import signalling

register = template.Library()

CARRIERS = {
    "twilio": (signalling.TWILIO, signalling.TWILIO_SOURCE),
    "telnyx": (signalling.TELNYX, signalling.TELNYX_SOURCE),
}


@register.simple_tag
def signalling_ranges(carrier: str) -> dict[str, Any]:
    ranges, source = CARRIERS[carrier]
    return {
        "ranges": ranges,
        "all": "\n".join(signalling.every_address(ranges)),
        "source": source,
        "checked": signalling.CHECKED,
    }
