"""The account's state: its credentials, incoming numbers, trunks and origination URLs, and
the trunk domain names that are taken (by a trunk, by a deleted trunk, or elsewhere).

Every rule the handlers apply to that state lives here, raising ``ApiError`` with Twilio's
codes. Where Twilio's behaviour is not documented the choice is the one that is harder on
a client (docs/carriers.md lists them).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from emulators.carrierkit import pool
from emulators.carrierkit.errors import ApiError

from .config import ApiKey, Config

DOMAIN_RE = re.compile(r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.pstn\.twilio\.com$")
E164_RE = re.compile(r"^\+[1-9][0-9]{7,14}$")

INVALID = 20001
NOT_FOUND = 20404
DOMAIN_TAKEN = 21248
NOT_AVAILABLE = 21422
INVALID_NUMBER = 21421
TRIAL_RESTRICTED = 10002
ACCOUNT_NOT_ACTIVE = 20005


def sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def invalid(message: str) -> ApiError:
    return ApiError(400, INVALID, message)


def not_found(path: str) -> ApiError:
    return ApiError(404, NOT_FOUND, f"The requested resource {path} was not found")


@dataclass
class Number:
    sid: str
    phone_number: str
    friendly_name: str
    voice: bool = True
    sms: bool = True
    trunk_sid: str | None = None
    voice_url: str = ""
    created: datetime = field(default_factory=now)
    updated: datetime = field(default_factory=now)


@dataclass
class Trunk:
    sid: str
    friendly_name: str
    domain_name: str | None
    secure: bool = False
    cnam_lookup_enabled: bool = False
    disaster_recovery_url: str | None = None
    disaster_recovery_method: str | None = None
    created: datetime = field(default_factory=now)
    updated: datetime = field(default_factory=now)


@dataclass
class OriginationUrl:
    sid: str
    trunk_sid: str
    friendly_name: str
    sip_url: str
    priority: int
    weight: int
    enabled: bool
    created: datetime = field(default_factory=now)
    updated: datetime = field(default_factory=now)


def friendly(e164: str) -> str:
    """Twilio's friendly name for a North American number: ``(415) 555-0100``."""
    if e164.startswith("+1") and len(e164) == 12:
        return f"({e164[2:5]}) {e164[5:8]}-{e164[8:]}"
    return e164


class Store:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.account_sid = config.account_sid
        self.auth_token = config.auth_token
        self.api_keys: dict[str, ApiKey] = {}
        self.numbers: dict[str, Number] = {}
        self.trunks: dict[str, Trunk] = {}
        self.urls: dict[str, OriginationUrl] = {}
        self.released_domains: set[str] = set()
        self.taken_elsewhere: set[str] = set()
        # Billing, set through /_emulator/billing: a trial account may own one number; an
        # account without funds buys nothing.
        self.trial = False
        self.funds = True
        self.reset()

    def reset(self) -> None:
        self.auth_token = self.config.auth_token
        self.api_keys = {key.sid: key for key in self.config.api_keys}
        self.numbers.clear()
        self.trunks.clear()
        self.urls.clear()
        self.released_domains.clear()
        self.taken_elsewhere.clear()
        self.trial, self.funds = False, True
        for e164 in self.config.numbers:
            self.add_number(e164)

    # -- numbers ------------------------------------------------------------------------------
    def add_number(self, e164: str, *, voice: bool = True, sms: bool = True) -> Number:
        if not E164_RE.match(e164):
            raise ApiError(400, INVALID_NUMBER, f"{e164} is not a valid phone number")
        if self.number_by_e164(e164) is not None:
            raise ApiError(400, NOT_AVAILABLE, f"{e164} is not available")
        number = Number(sid("PN"), e164, friendly(e164), voice=voice, sms=sms)
        self.numbers[number.sid] = number
        return number

    def number_by_e164(self, e164: str) -> Number | None:
        return next((n for n in self.numbers.values() if n.phone_number == e164), None)

    def number(self, number_sid: str, path: str) -> Number:
        number = self.numbers.get(number_sid)
        if number is None:
            raise not_found(path)
        return number

    def set_trunk(self, number: Number, trunk_sid: str | None) -> None:
        """Attach (or with None detach). A number on another trunk is moved without a word:
        Twilio documents no refusal, so a client must check ``trunk_sid`` first."""
        number.trunk_sid = trunk_sid
        number.updated = now()

    def available(self, area_code: str, kind: str = pool.LOCAL, country: str = "US") -> list[str]:
        """The numbers on sale of a kind (emulators/carrierkit/pool.py), less the ones this
        account owns."""
        owned = {n.phone_number for n in self.numbers.values()}
        return [c for c in pool.candidates(kind, country, area_code) if c not in owned]

    def buy(self, phone_number: str, area_code: str) -> Number:
        if not phone_number and not area_code:
            raise invalid("Either PhoneNumber or AreaCode is required")
        if not phone_number:
            if not re.fullmatch(r"[2-9][0-9]{2}", area_code):
                raise invalid(f"AreaCode {area_code} is not a valid area code")
            on_sale = self.available(area_code, pool.kind_of(f"+1{area_code}5550100"))
            if not on_sale:
                raise ApiError(400, NOT_AVAILABLE, "No numbers are available in that area code")
            phone_number = on_sale[0]
        if not E164_RE.match(phone_number):
            raise ApiError(400, INVALID_NUMBER, f"{phone_number} is not a valid phone number")
        owned = {n.phone_number for n in self.numbers.values()}
        if phone_number in owned or phone_number not in pool.pool_of(phone_number):
            raise ApiError(400, NOT_AVAILABLE, f"{phone_number} is not available")
        self.check_billing()
        return self.add_number(phone_number)

    def check_billing(self) -> None:
        """A purchase refused by the account's standing: no funds (20005), or a trial
        account that owns a number already (10002). Statuses are UNCONFIRMED (400)."""
        if not self.funds:
            raise ApiError(
                400, ACCOUNT_NOT_ACTIVE, "Account not active: the account has run out of funds"
            )
        if self.trial and self.numbers:
            raise ApiError(
                400,
                TRIAL_RESTRICTED,
                "Trial accounts do not support the feature you tried to use: a trial account "
                "may own one phone number",
            )

    # -- trunks -------------------------------------------------------------------------------
    def trunk(self, trunk_sid: str, path: str) -> Trunk:
        trunk = self.trunks.get(trunk_sid)
        if trunk is None:
            raise not_found(path)
        return trunk

    def check_domain(self, domain: str, keep: str | None = None) -> str:
        domain = domain.strip().lower()
        if not DOMAIN_RE.match(domain):
            raise invalid(
                f"DomainName {domain} is invalid: use letters, digits and - and end it with "
                ".pstn.twilio.com"
            )
        in_use = {t.domain_name for t in self.trunks.values() if t.sid != keep}
        if domain in in_use or domain in self.released_domains or domain in self.taken_elsewhere:
            raise ApiError(400, DOMAIN_TAKEN, f"Trunk domain {domain} is already taken")
        return domain

    def delete_trunk(self, trunk: Trunk) -> None:
        """Deleting a trunk drops its origination URLs and detaches its numbers; its domain
        name stays reserved (until the control plane's reset)."""
        for url_sid in [u.sid for u in self.urls.values() if u.trunk_sid == trunk.sid]:
            del self.urls[url_sid]
        for number in self.numbers.values():
            if number.trunk_sid == trunk.sid:
                self.set_trunk(number, None)
        if trunk.domain_name:
            self.released_domains.add(trunk.domain_name)
        del self.trunks[trunk.sid]

    def url(self, trunk_sid: str, url_sid: str, path: str) -> OriginationUrl:
        url = self.urls.get(url_sid)
        if url is None or url.trunk_sid != trunk_sid:
            raise not_found(path)
        return url


def parse_bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise invalid(f"{name} must be true or false")


def parse_int(name: str, raw: str, low: int, high: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise invalid(f"{name} must be an integer") from None
    if not low <= value <= high:
        raise invalid(f"{name} must be between {low} and {high}")
    return value
