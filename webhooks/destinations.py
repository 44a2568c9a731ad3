"""Where a webhook may go: the URL rules and the address check (SSRF).

A destination is refused when its host resolves to an address that is not on the public
internet: loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7), link-local
(169.254/16 with the cloud metadata address, fe80::/10), shared, reserved, multicast or
unspecified. The check runs when an endpoint is saved and again before every attempt, after
resolving the name, and the request then connects to the very address that was checked, so
a name that changes its answer between the two (DNS rebinding) cannot slip through.
WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS=true lets local receivers through (development, tests).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

METADATA_ADDRESSES = frozenset({"169.254.169.254", "fd00:ec2::254"})


class DestinationRefused(ValueError):
    """A URL Switchboard will not send to, with a sentence saying why and what to do."""


@dataclass(frozen=True)
class Destination:
    scheme: str
    host: str  # as written in the URL (a name, or an address)
    port: int
    target: str  # path and query
    address: str  # the checked address to connect to

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


def resolve(host: str, port: int) -> list[str]:
    """Every address the name resolves to (tests replace this)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def describe(address: str) -> str | None:
    """Why an address is refused, or None if it is on the public internet."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if str(ip) in METADATA_ADDRESSES:
        return "the cloud metadata address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_private:
        return "a private network address"
    if ip.is_multicast or ip.is_unspecified or ip.is_reserved or not ip.is_global:
        return "not a public internet address"
    return None


def parse(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, target) of a URL we would send to, or DestinationRefused."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise DestinationRefused(f"This is not a valid URL ({exc}).") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise DestinationRefused("Use an https:// URL.")
    if parts.username is not None or parts.password is not None:
        raise DestinationRefused(
            "Remove the user name and password from the URL; events are signed instead."
        )
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise DestinationRefused("The URL has no host name.")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return scheme, host, port or (443 if scheme == "https" else 80), target


def check(url: str) -> Destination:
    """Parse, resolve and check a URL; the address to connect to is the first checked one."""
    scheme, host, port, target = parse(url)
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError):
        raise DestinationRefused(
            f"The host name {host} could not be resolved. Check the spelling, or try again "
            "if its DNS was just set up."
        ) from None
    if not addresses:
        raise DestinationRefused(f"The host name {host} has no address.")
    if not settings.WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS:
        for address in addresses:
            why = describe(address)
            if why is not None:
                shown = (
                    f"{host} is" if host == address else f"{host} resolves to {address}, which is"
                )
                raise DestinationRefused(
                    f"{shown} {why}. Webhooks go to public internet addresses only: use "
                    "your system's public URL."
                )
    # Plain http only in development, or to a local receiver the switch lets through.
    local = all(describe(a) is not None for a in addresses)
    if scheme == "http" and not (
        settings.DEBUG or (local and settings.WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS)
    ):
        raise DestinationRefused(
            "Use an https:// URL: events carry callers' details and are only sent encrypted."
        )
    return Destination(scheme, host, port, target, addresses[0])
