"""api.twilio.com/2010-04-01: the account, its incoming numbers, numbers on sale."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from emulators.carrierkit import pool
from emulators.carrierkit.app import Call, Reply

from . import shapes
from .store import Store, friendly, not_found, now, parse_bool

if TYPE_CHECKING:
    from .server import TwilioEmulator

ACCOUNT = "/2010-04-01/Accounts/{account}"
NUMBERS = ACCOUNT + "/IncomingPhoneNumbers"


def _number_filter(pattern: str) -> re.Pattern[str]:
    """``PhoneNumber`` matches any part of the number; ``*`` stands for one digit."""
    digits = re.sub(r"[^0-9*]", "", pattern)
    return re.compile(re.escape(digits).replace(r"\*", "[0-9]"))


def register(emu: TwilioEmulator) -> None:
    store = emu.store

    async def fetch_account(call: Call) -> Reply:
        return Reply(200, _account(store))

    async def list_numbers(call: Call) -> Reply:
        params = call.params
        numbers = list(store.numbers.values())
        if params.get("PhoneNumber"):
            pattern = _number_filter(params["PhoneNumber"])
            numbers = [n for n in numbers if pattern.search(n.phone_number[1:])]
        if params.get("FriendlyName"):
            numbers = [n for n in numbers if n.friendly_name == params["FriendlyName"]]
        items = [shapes.incoming_number(store, n) for n in numbers]
        path = f"/2010-04-01/Accounts/{store.account_sid}/IncomingPhoneNumbers.json"
        return Reply(200, shapes.page_2010(path, "incoming_phone_numbers", items, params))

    async def create_number(call: Call) -> Reply:
        params = call.params
        number = store.buy(params.get("PhoneNumber", "").strip(), params.get("AreaCode", ""))
        if params.get("FriendlyName"):
            number.friendly_name = params["FriendlyName"][:64]
        if params.get("TrunkSid"):
            store.set_trunk(number, store.trunk(params["TrunkSid"], call.request.path).sid)
        if params.get("VoiceUrl"):
            number.voice_url = params["VoiceUrl"]
        return Reply(201, shapes.incoming_number(store, number), created_id=number.sid)

    emu.op("GET", ACCOUNT + ".json", "FetchAccount", fetch_account)
    emu.op("GET", NUMBERS + ".json", "ListIncomingPhoneNumbers", list_numbers)
    emu.op("POST", NUMBERS + ".json", "CreateIncomingPhoneNumber", create_number)
    _one_number(emu)
    _on_sale(emu)


def _one_number(emu: TwilioEmulator) -> None:
    store = emu.store

    async def fetch_number(call: Call) -> Reply:
        number = store.number(call.request.match_info["sid"], call.request.path)
        return Reply(200, shapes.incoming_number(store, number))

    async def update_number(call: Call) -> Reply:
        number = store.number(call.request.match_info["sid"], call.request.path)
        params = call.params
        if "TrunkSid" in params:
            trunk_sid = params["TrunkSid"].strip()
            if trunk_sid:
                store.trunk(trunk_sid, f"/v1/Trunks/{trunk_sid}")
            store.set_trunk(number, trunk_sid or None)
        if "FriendlyName" in params:
            number.friendly_name = params["FriendlyName"][:64]
        if "VoiceUrl" in params:
            number.voice_url = params["VoiceUrl"]
        number.updated = now()
        return Reply(200, shapes.incoming_number(store, number), committed=True)

    async def delete_number(call: Call) -> Reply:
        number = store.number(call.request.match_info["sid"], call.request.path)
        del store.numbers[number.sid]
        return Reply(204, committed=True)

    emu.op("GET", NUMBERS + "/{sid}.json", "FetchIncomingPhoneNumber", fetch_number)
    emu.op("POST", NUMBERS + "/{sid}.json", "UpdateIncomingPhoneNumber", update_number)
    emu.op("DELETE", NUMBERS + "/{sid}.json", "DeleteIncomingPhoneNumber", delete_number)


# Twilio's subresources of AvailablePhoneNumbers/{country} that the emulator serves.
KIND_PATHS = {"Local": pool.LOCAL, "TollFree": pool.TOLL_FREE, "Mobile": pool.MOBILE}


def _on_sale(emu: TwilioEmulator) -> None:
    store = emu.store

    def lister(kind: str) -> Callable[[Call], Awaitable[Reply]]:
        async def list_available(call: Call) -> Reply:
            country = call.request.match_info["country"].upper()
            params = call.params
            if kind != pool.LOCAL and not pool.offered(kind, country):
                # UNCONFIRMED: a type the country does not sell is a 404, like an unknown path.
                raise not_found(call.request.path)
            area = params.get("AreaCode", "") or ("415" if kind == pool.LOCAL else "")
            numbers = store.available(area, kind, country)
            if params.get("Contains"):
                pattern = _number_filter(params["Contains"])
                numbers = [n for n in numbers if pattern.search(n[1:])]
            if "VoiceEnabled" in params and not parse_bool("VoiceEnabled", params["VoiceEnabled"]):
                numbers = []
            size = int(params["PageSize"]) if params.get("PageSize", "").isdigit() else 30
            items = [_available(n, country) for n in numbers[: max(1, min(size, 1000))]]
            return Reply(200, {"uri": call.request.path, "available_phone_numbers": items})

        return list_available

    for name, kind in KIND_PATHS.items():
        path = ACCOUNT + "/AvailablePhoneNumbers/{country}/" + name + ".json"
        emu.op("GET", path, "ListAvailablePhoneNumbers", lister(kind))


def _account(store: Store) -> dict[str, object]:
    base = f"/2010-04-01/Accounts/{store.account_sid}"
    return {
        "auth_token": None,
        "date_created": "Thu, 01 Jan 2026 00:00:00 +0000",
        "date_updated": "Thu, 01 Jan 2026 00:00:00 +0000",
        "friendly_name": "Switchboard emulator account",
        "owner_account_sid": store.account_sid,
        "sid": store.account_sid,
        "status": "active",
        "subresource_uris": {"incoming_phone_numbers": f"{base}/IncomingPhoneNumbers.json"},
        "type": "Full",
        "uri": f"{base}.json",
    }


def _available(e164: str, country: str) -> dict[str, object]:
    if pool.kind_of(e164) != pool.LOCAL:  # no town for toll-free and mobile numbers
        return {
            "address_requirements": "none",
            "beta": False,
            "capabilities": {"voice": True, "SMS": True, "MMS": False},
            "friendly_name": friendly(e164),
            "iso_country": country,
            "lata": None,
            "latitude": None,
            "locality": None,
            "longitude": None,
            "phone_number": e164,
            "postal_code": None,
            "rate_center": None,
            "region": None,
        }
    return {
        "address_requirements": "none",
        "beta": False,
        "capabilities": {"voice": True, "SMS": True, "MMS": True},
        "friendly_name": friendly(e164),
        "iso_country": country,
        "lata": "722",
        "latitude": "37.780000",
        "locality": "San Francisco",
        "longitude": "-122.420000",
        "phone_number": e164,
        "postal_code": "94103",
        "rate_center": "SNFC CA 01",
        "region": "CA",
    }
