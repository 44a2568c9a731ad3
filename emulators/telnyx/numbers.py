"""/v2/phone_numbers, /v2/available_phone_numbers and /v2/number_orders."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from emulators.carrierkit import pool
from emulators.carrierkit.app import Call, Reply

from . import shapes
from .store import E164_RE, Order, Store, error, invalid, missing, new_id

if TYPE_CHECKING:
    from .server import TelnyxEmulator


def _filtered_numbers(store: Store, query: dict[str, str]) -> list[Any]:
    numbers = list(store.numbers.values())
    wanted = query.get("filter[phone_number]")
    if wanted:
        digits = "".join(ch for ch in wanted if ch.isdigit())
        numbers = [n for n in numbers if digits in n.phone_number]
    if "filter[connection_id]" in query:
        numbers = [n for n in numbers if n.connection_id == query["filter[connection_id]"]]
    if query.get("filter[status]"):
        numbers = [n for n in numbers if n.status == query["filter[status]"]]
    return numbers


def _text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(name, f"{name} must be a string.")
    return value


def register(emu: TelnyxEmulator) -> None:
    store = emu.store
    op = emu.op

    async def list_numbers(call: Call) -> Reply:
        store.settle_orders()
        items = [shapes.number(store, n) for n in _filtered_numbers(store, call.params)]
        return Reply(200, shapes.page(items, call.params))

    async def retrieve_number(call: Call) -> Reply:
        store.settle_orders()
        number = store.number(call.request.match_info["id"])
        return Reply(200, {"data": shapes.number(store, number)})

    async def update_number(call: Call) -> Reply:
        number = store.number(call.request.match_info["id"])
        body = call.body
        if "connection_id" in body:
            store.assign(number, _text(body, "connection_id") or None)
        if "customer_reference" in body:
            number.customer_reference = _text(body, "customer_reference")
        if "tags" in body:
            tags = body["tags"]
            if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                raise invalid("tags", "tags must be a list of strings.")
            number.tags = tags
        return Reply(200, {"data": shapes.number(store, number)}, committed=True)

    async def delete_number(call: Call) -> Reply:
        number = store.number(call.request.match_info["id"])
        gone = shapes.number(store, number)
        store.delete_number(number)
        gone["status"] = "deleted"
        return Reply(200, {"data": gone}, committed=True)

    op("GET", "/v2/phone_numbers", "ListPhoneNumbers", list_numbers)
    op("GET", "/v2/phone_numbers/{id}", "RetrievePhoneNumber", retrieve_number)
    op("PATCH", "/v2/phone_numbers/{id}", "UpdatePhoneNumber", update_number)
    op("DELETE", "/v2/phone_numbers/{id}", "DeletePhoneNumber", delete_number)
    _on_sale(emu)
    _orders(emu)


def _on_sale(emu: TelnyxEmulator) -> None:
    store = emu.store

    async def list_available(call: Call) -> Reply:
        query = call.params
        country = query.get("filter[country_code]", "US").upper()
        kind = query.get("filter[phone_number_type]", "") or pool.LOCAL
        if kind not in ("local", "toll_free", "mobile", "national", "shared_cost"):
            raise invalid(
                "filter[phone_number_type]",
                "phone_number_type must be one of local, toll_free, mobile, national, shared_cost.",
            )
        ndc = query.get("filter[national_destination_code]", "")
        ndc = ndc or ("312" if kind == pool.LOCAL else "")
        numbers = store.available(ndc, kind, country) if kind in pool.KINDS else []
        contains = query.get("filter[phone_number][contains]", "")
        numbers = [n for n in numbers if contains in n]
        limit = query.get("filter[limit]", "")
        numbers = numbers[: int(limit)] if limit.isdigit() else numbers[:50]
        data = [_available(n) for n in numbers]
        meta = {"total_results": len(data), "best_effort_results": 0}
        return Reply(200, {"data": data, "meta": meta, "metadata": meta})

    emu.op("GET", "/v2/available_phone_numbers", "ListAvailablePhoneNumbers", list_available)


def _orders(emu: TelnyxEmulator) -> None:
    store = emu.store

    async def create(call: Call) -> Reply:
        body = call.body
        wanted = body.get("phone_numbers")
        if not isinstance(wanted, list) or not wanted:
            raise missing("phone_numbers")
        e164s = [w.get("phone_number") if isinstance(w, dict) else None for w in wanted]
        for e164 in e164s:
            if not isinstance(e164, str) or not E164_RE.match(e164):
                raise error(422, "10016", "Phone number must be in +E.164 format.")
            if not store.for_sale(e164):
                raise invalid("phone_numbers", f"{e164} is not available for purchase.")
        connection_id = _text(body, "connection_id")
        if connection_id is not None and connection_id not in store.connections:
            raise error(422, "10013", "One of the associated fields does not exist.")
        if not store.funds:
            raise error(402, "20100", "You do not have enough funds to perform this action.")
        ids = [store.add_number(str(e164), status="purchase-pending").id for e164 in e164s]
        order = Order(new_id(), ids, connection_id, _text(body, "customer_reference"))
        store.orders[order.id] = order
        return Reply(200, {"data": shapes.order(store, order)}, created_id=order.id)

    async def list_(call: Call) -> Reply:
        store.settle_orders()
        orders = list(store.orders.values())
        query = call.params
        if query.get("filter[customer_reference]"):
            ref = query["filter[customer_reference]"]
            orders = [o for o in orders if o.customer_reference == ref]
        if query.get("filter[status]"):
            orders = [o for o in orders if o.status == query["filter[status]"]]
        return Reply(200, shapes.page([shapes.order(store, o) for o in orders], query))

    async def retrieve(call: Call) -> Reply:
        store.settle_orders()
        order = store.orders.get(call.request.match_info["id"])
        if order is None:
            raise error(404, "10005", "The requested resource or URL could not be found.")
        return Reply(200, {"data": shapes.order(store, order)})

    emu.op("POST", "/v2/number_orders", "CreateNumberOrder", create)
    emu.op("GET", "/v2/number_orders", "ListNumberOrders", list_)
    emu.op("GET", "/v2/number_orders/{id}", "RetrieveNumberOrder", retrieve)


def _available(e164: str) -> dict[str, Any]:
    kind = pool.kind_of(e164)
    if kind != pool.LOCAL:
        country = "GB" if kind == pool.MOBILE else "US"
        return {
            "record_type": "available_phone_number",
            "phone_number": e164,
            "vanity_format": "",
            "best_effort": False,
            "quickship": True,
            "reservable": True,
            "phone_number_type": kind,
            "region_information": [{"region_type": "country_code", "region_name": country}],
            "cost_information": {"upfront_cost": "1.00", "monthly_cost": "2.00", "currency": "USD"},
            "features": [{"name": "voice"}, {"name": "sms"}],
        }
    return {
        "record_type": "available_phone_number",
        "phone_number": e164,
        "vanity_format": "",
        "best_effort": False,
        "quickship": True,
        "reservable": True,
        "region_information": [
            {"region_type": "country_code", "region_name": "US"},
            {"region_type": "rate_center", "region_name": "CHICAGO"},
        ],
        "cost_information": {"upfront_cost": "1.00", "monthly_cost": "1.00", "currency": "USD"},
        "features": [{"name": "voice"}, {"name": "sms"}],
    }
