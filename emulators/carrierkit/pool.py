"""The numbers on sale in the carrier emulators, by kind (local, toll-free, mobile).

Each pool is a hundred made-up numbers: local ``+1<area>5550100`` to ``…0199`` in the US and
Canada; toll-free the same under a toll-free prefix (800, 833, 844, 855, 866, 877, 888);
mobile ``+447700900100`` to ``…0199`` in the United Kingdom (Ofcom's range for drama). A
number the account owns is not on sale.
"""

from __future__ import annotations

import re

LOCAL, TOLL_FREE, MOBILE = "local", "toll_free", "mobile"
KINDS = (LOCAL, TOLL_FREE, MOBILE)
TOLL_FREE_PREFIXES = ("800", "833", "844", "855", "866", "877", "888")
NANP = ("US", "CA")
MOBILE_COUNTRIES = ("GB",)
AREA_RE = re.compile(r"^[2-9][0-9]{2}$")


def offered(kind: str, country: str) -> bool:
    """Whether the emulated carrier sells this kind of number in this country at all."""
    if kind == MOBILE:
        return country in MOBILE_COUNTRIES
    return country in NANP


def candidates(kind: str, country: str, area: str) -> list[str]:
    """Every number of the pool (owned or not); ``area`` empty picks the default one."""
    if not offered(kind, country):
        return []
    if kind == MOBILE:
        return [f"+447700900{line:03d}" for line in range(100, 200)] if area in ("", "7700") else []
    if kind == TOLL_FREE:
        area = area or "800"
        if area not in TOLL_FREE_PREFIXES:
            return []
    elif area in TOLL_FREE_PREFIXES or not AREA_RE.match(area):
        return []
    return [f"+1{area}5550{line:03d}" for line in range(100, 200)]


def kind_of(e164: str) -> str:
    if e164.startswith("+447"):
        return MOBILE
    if e164.startswith("+1") and e164[2:5] in TOLL_FREE_PREFIXES:
        return TOLL_FREE
    return LOCAL


def pool_of(e164: str) -> list[str]:
    """The pool a number would be sold from (empty: none)."""
    kind = kind_of(e164)
    if kind == MOBILE:
        return candidates(MOBILE, "GB", "")
    if not e164.startswith("+1"):
        return []
    return candidates(kind, "US", e164[2:5])
