"""Input validation and normalisation shared by forms, serializers and services."""

from __future__ import annotations

import functools
import ipaddress
import re

import phonenumbers
from django.core.exceptions import ValidationError

E164_RE = r"^\+[1-9][0-9]{1,14}$"
MAX_PHONE_INPUT = 64
_ALLOWED_PHONE_CHARS = re.compile(r"^[0-9+\-(). ]+$")
_HOSTNAME_RE = re.compile(
    r"^(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$"
)


def normalize_e164(raw: object, region: str | None = None) -> str:
    """Return the E.164 form of a phone number, or raise.

    Accepts what people type (`+1 (415) 555-0100`), rejects everything that is not plainly
    a phone number: letters, extensions, tel: URIs, non-ASCII digits, wildcards. A number
    without `+` and a country code is read as a national number of `region` (an ISO 3166
    code, the clinic's country: `(415) 555-0100` in the US); without a region it is refused.
    """
    if not isinstance(raw, str):
        raise ValidationError("Enter the phone number as text, e.g. +14155550100.", "type")
    value = raw.strip()
    if not value:
        raise ValidationError("Enter a phone number, e.g. +14155550100.", "required")
    if len(value) > MAX_PHONE_INPUT or not _ALLOWED_PHONE_CHARS.match(value):
        raise ValidationError(
            "Use digits only, in international format starting with + and the country "
            "code, e.g. +14155550100 (no letters, extensions or tel: prefixes).",
            "invalid_chars",
        )
    national = not value.startswith("+")
    if national and not region:
        raise ValidationError(
            "Start with + and the country code, e.g. +14155550100.", "no_country_code"
        )
    try:
        parsed = phonenumbers.parse(value, region if national else None)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(
            "This is not a phone number; use international format, e.g. +14155550100.",
            "unparseable",
        ) from exc
    if not phonenumbers.is_valid_number(parsed):
        if national:
            raise ValidationError(
                f"This is not a valid number in your clinic's country ({region}); check the "
                "digits, or start with + and the country code, e.g. +14155550100.",
                "invalid_number",
            )
        raise ValidationError(
            "This number does not exist in its country's numbering plan; check the digits "
            "and the country code.",
            "invalid_number",
        )
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if not re.match(E164_RE, e164):  # defensive: the library's output is always E.164
        raise ValidationError("Not an E.164 number.", "invalid_number")
    return e164


@functools.lru_cache(maxsize=4096)
def display_number(e164: str) -> str:
    """An E.164 number as people read it: +1 415 555 0100, +44 20 7946 0000. Kept per process
    (a pure function of its text): the call log shows the same callers again and again."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    formatted = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return formatted.replace("-", " ")


def validate_address(raw: str) -> str:
    """An IPv4/IPv6 address, a CIDR block or a hostname, as LiveKit's allowed_addresses take."""
    value = raw.strip()
    if not value:
        raise ValidationError("Empty address.", "required")
    try:
        if "/" in value:
            return str(ipaddress.ip_network(value, strict=False))
        return str(ipaddress.ip_address(value))
    except ValueError:
        pass
    if _HOSTNAME_RE.match(value) and not value.replace(".", "").isdigit():
        return value.lower()
    raise ValidationError(
        f"{value[:60]!r} is not an IP address, a CIDR block (e.g. 192.0.2.0/24) or a hostname.",
        "invalid_address",
    )


_SIP_URI_RE = re.compile(r"^sip:([^;:@/\s]+)(?::([0-9]{1,5}))?(;[A-Za-z0-9=._-]+)*$")


def validate_sip_uri(raw: str) -> None:
    """``sip:host[:port][;params]`` as a carrier is given it: no user part, no sips: (Twilio
    takes sip: only), a hostname or an IP address and a port from 1 to 65535."""
    value = (raw or "").strip()
    if not value:
        return
    match = _SIP_URI_RE.match(value)
    host = match.group(1) if match else ""
    valid_host = bool(_HOSTNAME_RE.match(host))
    try:
        ipaddress.ip_address(host)
        valid_host = True
    except ValueError:
        pass
    port = match.group(2) if match else None
    if not match or not valid_host or (port is not None and not 0 < int(port) < 65536):
        raise ValidationError(
            "Enter a SIP URI such as sip:example.sip.livekit.cloud (sip:, a host name and "
            "optionally :port; nothing else).",
            "invalid_sip_uri",
        )
