"""The Telnyx account's state: its key, numbers, FQDN connections, FQDNs and number orders.

Rules raise ``ApiError`` with Telnyx's codes. Where Telnyx's behaviour is not documented the
choice is the one that is harder on a client (docs/carriers.md lists them).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from emulators.carrierkit import pool
from emulators.carrierkit.args import E164_RE
from emulators.carrierkit.errors import ApiError

from .config import Config

NOT_FOUND = "10005"
MISSING = "10004"
INVALID = "10015"
MISSING_ASSOCIATION = "10013"
TITLES = {
    "10004": "Missing required parameter",
    "10005": "Resource not found",
    "10007": "Unexpected error",
    "10009": "Authentication failed",
    "10011": "Too many requests",
    "10013": "Missing association",
    "10014": "Unsupported Media Type",
    "10015": "Bad Request",
}


def new_id() -> str:
    """Telnyx IDs are numeric strings of 19 digits."""
    return str(1_000_000_000_000_000_000 + secrets.randbelow(8_999_999_999_999_999_999))


def stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def error(status: int, code: str, detail: str, pointer: str | None = None) -> ApiError:
    extra = {"source": {"pointer": pointer}} if pointer else {}
    return ApiError(status, code, detail, **extra)


def missing(name: str) -> ApiError:
    return error(422, MISSING, f"The parameter {name} is required.", f"/{name}")


def invalid(name: str, detail: str) -> ApiError:
    return error(422, INVALID, detail, f"/{name}")


def not_found() -> ApiError:
    return error(404, NOT_FOUND, "The requested resource or URL could not be found.")


@dataclass
class Number:
    id: str
    phone_number: str
    status: str = "active"
    connection_id: str | None = None
    customer_reference: str | None = None
    tags: list[str] = field(default_factory=list)
    created_at: str = field(default_factory=stamp)
    updated_at: str = field(default_factory=stamp)


@dataclass
class Connection:
    id: str
    connection_name: str
    active: bool
    transport_protocol: str
    inbound: dict[str, Any]
    tags: list[str]
    created_at: str = field(default_factory=stamp)
    updated_at: str = field(default_factory=stamp)


@dataclass
class Fqdn:
    id: str
    connection_id: str
    fqdn: str
    port: int | None
    dns_record_type: str
    created_at: str = field(default_factory=stamp)
    updated_at: str = field(default_factory=stamp)


@dataclass
class Order:
    id: str
    number_ids: list[str]
    connection_id: str | None
    customer_reference: str | None
    status: str = "pending"
    created_at: str = field(default_factory=stamp)
    updated_at: str = field(default_factory=stamp)


class Store:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.api_key = config.api_key
        self.numbers: dict[str, Number] = {}
        self.connections: dict[str, Connection] = {}
        self.fqdns: dict[str, Fqdn] = {}
        self.orders: dict[str, Order] = {}
        self.funds = True  # /_emulator/billing: without funds a number order is refused
        self.reset()

    def reset(self) -> None:
        self.api_key = self.config.api_key
        self.numbers.clear()
        self.connections.clear()
        self.fqdns.clear()
        self.orders.clear()
        self.funds = True
        for e164 in self.config.numbers:
            self.add_number(e164)

    def add_number(self, e164: str, status: str = "active") -> Number:
        if not E164_RE.match(e164):
            raise invalid("phone_number", f"{e164} is not in +E.164 format.")
        if any(n.phone_number == e164 for n in self.numbers.values()):
            raise invalid("phone_number", f"{e164} is already on the account.")
        number = Number(new_id(), e164, status=status)
        self.numbers[number.id] = number
        return number

    def number(self, number_id: str) -> Number:
        number = self.numbers.get(number_id) or next(
            (n for n in self.numbers.values() if n.phone_number == number_id), None
        )
        if number is None:
            raise not_found()
        return number

    def connection(self, connection_id: str) -> Connection:
        connection = self.connections.get(connection_id)
        if connection is None:
            raise not_found()
        return connection

    def fqdn(self, fqdn_id: str) -> Fqdn:
        fqdn = self.fqdns.get(fqdn_id)
        if fqdn is None:
            raise not_found()
        return fqdn

    def assign(self, number: Number, connection_id: str | None) -> None:
        """Set (or with None clear) a number's connection. A number on another connection is
        moved without a word: clients must check ``connection_id`` first."""
        if connection_id is not None:
            if connection_id not in self.connections:
                raise error(
                    422,
                    MISSING_ASSOCIATION,
                    "One of the associated fields does not exist.",
                    "/connection_id",
                )
            if number.status != "active":
                raise invalid("connection_id", f"{number.phone_number} is {number.status}.")
        number.connection_id = connection_id
        number.updated_at = stamp()

    def delete_connection(self, connection: Connection) -> None:
        """Its FQDNs go with it and its numbers are left without a connection."""
        for fqdn_id in [f.id for f in self.fqdns.values() if f.connection_id == connection.id]:
            del self.fqdns[fqdn_id]
        for number in self.numbers.values():
            if number.connection_id == connection.id:
                self.assign(number, None)
        del self.connections[connection.id]

    def available(self, ndc: str, kind: str = pool.LOCAL, country: str = "US") -> list[str]:
        """On sale (emulators/carrierkit/pool.py), less the numbers on the account."""
        owned = {n.phone_number for n in self.numbers.values()}
        return [c for c in pool.candidates(kind, country, ndc) if c not in owned]

    def for_sale(self, e164: str) -> bool:
        owned = {n.phone_number for n in self.numbers.values()}
        return e164 not in owned and e164 in pool.pool_of(e164)

    def delete_number(self, number: Number) -> None:
        """Gone from the account (Telnyx: "deletes the specified phone number"); it goes
        back on sale."""
        del self.numbers[number.id]

    def settle_orders(self) -> None:
        """Orders complete at the first read after they were placed (Telnyx completes them
        asynchronously): the order turns ``success`` and its numbers ``active``."""
        for order in self.orders.values():
            if order.status == "pending":
                order.status = "success"
                order.updated_at = stamp()
                for number_id in order.number_ids:
                    number = self.numbers[number_id]
                    number.status = "active"
                    if order.connection_id in self.connections:
                        number.connection_id = order.connection_id
