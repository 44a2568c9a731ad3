"""trunking.twilio.com/v1: Elastic SIP trunks, their origination URLs and phone numbers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from emulators.carrierkit.app import Call, Reply

from . import shapes
from .store import OriginationUrl, Trunk, invalid, not_found, now, parse_bool, parse_int, sid

if TYPE_CHECKING:
    from .server import TwilioEmulator

TRUNKS = "/v1/Trunks"
TRUNK = TRUNKS + "/{trunk}"
URLS = TRUNK + "/OriginationUrls"
NUMBERS = TRUNK + "/PhoneNumbers"


def _required(params: dict[str, str], *names: str) -> None:
    for name in names:
        if not params.get(name, "").strip():
            raise invalid(f"Missing required parameter {name} in the post body")


def register(emu: TwilioEmulator) -> None:
    _trunks(emu)
    _origination_urls(emu)
    _phone_numbers(emu)


def _trunks(emu: TwilioEmulator) -> None:
    store = emu.store

    async def create(call: Call) -> Reply:
        params = call.params
        domain = params.get("DomainName", "").strip()
        trunk = Trunk(
            sid("TK"),
            params.get("FriendlyName", "")[:64],
            store.check_domain(domain) if domain else None,
            secure=parse_bool("Secure", params.get("Secure", "false")),
            cnam_lookup_enabled=parse_bool(
                "CnamLookupEnabled", params.get("CnamLookupEnabled", "false")
            ),
            disaster_recovery_url=params.get("DisasterRecoveryUrl") or None,
            disaster_recovery_method=params.get("DisasterRecoveryMethod") or None,
        )
        store.trunks[trunk.sid] = trunk
        return Reply(201, shapes.trunk(store, trunk), created_id=trunk.sid)

    async def list_(call: Call) -> Reply:
        items = [shapes.trunk(store, t) for t in store.trunks.values()]
        return Reply(200, shapes.page_v1(TRUNKS, "trunks", items, call.params))

    async def fetch(call: Call) -> Reply:
        trunk = store.trunk(call.request.match_info["trunk"], call.request.path)
        return Reply(200, shapes.trunk(store, trunk))

    async def update(call: Call) -> Reply:
        trunk = store.trunk(call.request.match_info["trunk"], call.request.path)
        params = call.params
        if "DomainName" in params:
            domain = params["DomainName"].strip()
            trunk.domain_name = store.check_domain(domain, keep=trunk.sid) if domain else None
        if "FriendlyName" in params:
            trunk.friendly_name = params["FriendlyName"][:64]
        if "Secure" in params:
            trunk.secure = parse_bool("Secure", params["Secure"])
        trunk.updated = now()
        return Reply(200, shapes.trunk(store, trunk), committed=True)

    async def delete(call: Call) -> Reply:
        store.delete_trunk(store.trunk(call.request.match_info["trunk"], call.request.path))
        return Reply(204, committed=True)

    emu.op("POST", TRUNKS, "CreateTrunk", create)
    emu.op("GET", TRUNKS, "ListTrunks", list_)
    emu.op("GET", TRUNK, "FetchTrunk", fetch)
    emu.op("POST", TRUNK, "UpdateTrunk", update)
    emu.op("DELETE", TRUNK, "DeleteTrunk", delete)


def _sip_url(raw: str) -> str:
    sip_url = raw.strip()
    if not sip_url.lower().startswith(("sip:", "sips:")):
        raise invalid(f"SipUrl {sip_url} is invalid: it must be a sip: URI")
    return sip_url


def _url_fields(params: dict[str, str]) -> dict[str, object]:
    fields: dict[str, object] = {}
    if "SipUrl" in params:
        fields["sip_url"] = _sip_url(params["SipUrl"])
    if "Priority" in params:
        fields["priority"] = parse_int("Priority", params["Priority"], 0, 65535)
    if "Weight" in params:
        fields["weight"] = parse_int("Weight", params["Weight"], 1, 65535)
    if "Enabled" in params:
        fields["enabled"] = parse_bool("Enabled", params["Enabled"])
    if "FriendlyName" in params:
        fields["friendly_name"] = params["FriendlyName"][:64]
    return fields


def _origination_urls(emu: TwilioEmulator) -> None:
    store = emu.store

    async def create(call: Call) -> Reply:
        trunk = store.trunk(call.request.match_info["trunk"], call.request.path)
        _required(call.params, "Weight", "Priority", "Enabled", "FriendlyName", "SipUrl")
        params = call.params
        url = OriginationUrl(
            sid("OU"),
            trunk.sid,
            friendly_name=params["FriendlyName"][:64],
            sip_url=_sip_url(params["SipUrl"]),
            priority=parse_int("Priority", params["Priority"], 0, 65535),
            weight=parse_int("Weight", params["Weight"], 1, 65535),
            enabled=parse_bool("Enabled", params["Enabled"]),
        )
        store.urls[url.sid] = url
        return Reply(201, shapes.origination_url(store, url), created_id=url.sid)

    async def list_(call: Call) -> Reply:
        trunk = store.trunk(call.request.match_info["trunk"], call.request.path)
        urls = [u for u in store.urls.values() if u.trunk_sid == trunk.sid]
        items = [shapes.origination_url(store, u) for u in urls]
        path = f"{TRUNKS}/{trunk.sid}/OriginationUrls"
        return Reply(200, shapes.page_v1(path, "origination_urls", items, call.params))

    def _get(call: Call) -> OriginationUrl:
        info = call.request.match_info
        store.trunk(info["trunk"], call.request.path)
        return store.url(info["trunk"], info["sid"], call.request.path)

    async def fetch(call: Call) -> Reply:
        return Reply(200, shapes.origination_url(store, _get(call)))

    async def update(call: Call) -> Reply:
        url = _get(call)
        for name, value in _url_fields(call.params).items():
            setattr(url, name, value)
        url.updated = now()
        return Reply(200, shapes.origination_url(store, url), committed=True)

    async def delete(call: Call) -> Reply:
        del store.urls[_get(call).sid]
        return Reply(204, committed=True)

    emu.op("POST", URLS, "CreateOriginationUrl", create)
    emu.op("GET", URLS, "ListOriginationUrls", list_)
    emu.op("GET", URLS + "/{sid}", "FetchOriginationUrl", fetch)
    emu.op("POST", URLS + "/{sid}", "UpdateOriginationUrl", update)
    emu.op("DELETE", URLS + "/{sid}", "DeleteOriginationUrl", delete)


def _phone_numbers(emu: TwilioEmulator) -> None:
    store = emu.store

    async def create(call: Call) -> Reply:
        trunk = store.trunk(call.request.match_info["trunk"], call.request.path)
        _required(call.params, "PhoneNumberSid")
        number_sid = call.params["PhoneNumberSid"].strip()
        number = store.numbers.get(number_sid)
        if number is None:
            path = f"/2010-04-01/Accounts/{store.account_sid}/IncomingPhoneNumbers/{number_sid}"
            raise not_found(f"{path}.json")
        store.set_trunk(number, trunk.sid)
        return Reply(201, shapes.trunk_number(store, number), created_id=number.sid)

    async def list_(call: Call) -> Reply:
        trunk = store.trunk(call.request.match_info["trunk"], call.request.path)
        numbers = [n for n in store.numbers.values() if n.trunk_sid == trunk.sid]
        items = [shapes.trunk_number(store, n) for n in numbers]
        path = f"{TRUNKS}/{trunk.sid}/PhoneNumbers"
        return Reply(200, shapes.page_v1(path, "phone_numbers", items, call.params))

    async def fetch(call: Call) -> Reply:
        info = call.request.match_info
        store.trunk(info["trunk"], call.request.path)
        number = store.numbers.get(info["sid"])
        if number is None or number.trunk_sid != info["trunk"]:
            raise not_found(call.request.path)
        return Reply(200, shapes.trunk_number(store, number))

    async def delete(call: Call) -> Reply:
        info = call.request.match_info
        store.trunk(info["trunk"], call.request.path)
        number = store.numbers.get(info["sid"])
        if number is None or number.trunk_sid != info["trunk"]:
            raise not_found(call.request.path)
        store.set_trunk(number, None)
        return Reply(204, committed=True)

    emu.op("POST", NUMBERS, "AttachPhoneNumber", create)
    emu.op("GET", NUMBERS, "ListTrunkPhoneNumbers", list_)
    emu.op("GET", NUMBERS + "/{sid}", "FetchTrunkPhoneNumber", fetch)
    emu.op("DELETE", NUMBERS + "/{sid}", "DetachPhoneNumber", delete)
