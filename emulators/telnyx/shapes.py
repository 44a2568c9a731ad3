"""Resources as Telnyx writes them: one object under ``data``; lists under ``data`` with
``meta`` ``{page_number, page_size, total_pages, total_results}`` (``page[number]`` counts
from 1, ``page[size]`` is 1 to 250, 20 when absent)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from emulators.carrierkit import pool

from .store import Connection, Fqdn, Number, Order, Store, invalid

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 250


def number(store: Store, n: Number) -> dict[str, Any]:
    connection = store.connections.get(n.connection_id or "")
    return {
        "id": n.id,
        "record_type": "phone_number",
        "phone_number": n.phone_number,
        "status": n.status,
        "tags": list(n.tags),
        "external_pin": None,
        "connection_id": n.connection_id,
        "connection_name": connection.connection_name if connection else None,
        "customer_reference": n.customer_reference,
        "messaging_profile_id": None,
        "messaging_profile_name": None,
        "billing_group_id": None,
        "emergency_enabled": False,
        "emergency_address_id": None,
        "call_forwarding_enabled": True,
        "cnam_listing_enabled": False,
        "caller_id_name_enabled": False,
        "call_recording_enabled": False,
        "t38_fax_gateway_enabled": False,
        "phone_number_type": pool.kind_of(n.phone_number),
        "deletion_lock_enabled": False,
        "source_type": "number_order",
        "inbound_call_screening": "disabled",
        "hd_voice_enabled": False,
        "purchased_at": n.created_at,
        "created_at": n.created_at,
        "updated_at": n.updated_at,
    }


def connection(c: Connection) -> dict[str, Any]:
    return {
        "id": c.id,
        "record_type": "fqdn_connection",
        "active": c.active,
        "connection_name": c.connection_name,
        "transport_protocol": c.transport_protocol,
        "default_on_hold_comfort_noise_enabled": True,
        "dtmf_type": "RFC 2833",
        "encode_contact_header_enabled": False,
        "encrypted_media": None,
        "onnet_t38_passthrough_enabled": False,
        "microsoft_teams_sbc": False,
        "webhook_event_url": None,
        "webhook_event_failover_url": None,
        "webhook_api_version": "1",
        "webhook_timeout_secs": None,
        "rtcp_settings": {"port": "rtp+1", "capture_enabled": False, "report_frequency_secs": 5},
        "inbound": dict(c.inbound),
        "outbound": {"outbound_voice_profile_id": None},
        "tags": list(c.tags),
        "created_at": c.created_at,
        "updated_at": c.updated_at,
    }


def fqdn(f: Fqdn) -> dict[str, Any]:
    return {
        "id": f.id,
        "record_type": "fqdn",
        "connection_id": f.connection_id,
        "fqdn": f.fqdn,
        "port": f.port,
        "dns_record_type": f.dns_record_type,
        "created_at": f.created_at,
        "updated_at": f.updated_at,
    }


def order(store: Store, o: Order) -> dict[str, Any]:
    numbers = [store.numbers[i] for i in o.number_ids if i in store.numbers]
    return {
        "id": o.id,
        "record_type": "number_order",
        "phone_numbers": [
            {
                "id": n.id,
                "record_type": "number_order_phone_number",
                "phone_number": n.phone_number,
                "status": "success" if o.status == "success" else "pending",
                "regulatory_requirements": [],
                "requirements_met": True,
            }
            for n in numbers
        ],
        "phone_numbers_count": len(numbers),
        "connection_id": o.connection_id,
        "messaging_profile_id": None,
        "billing_group_id": None,
        "customer_reference": o.customer_reference,
        "status": o.status,
        "requirements_met": True,
        "sub_number_orders_ids": [],
        "created_at": o.created_at,
        "updated_at": o.updated_at,
    }


def page(items: Sequence[dict[str, Any]], query: dict[str, str]) -> dict[str, Any]:
    raw_number = query.get("page[number]", "1") or "1"
    raw_size = query.get("page[size]", str(DEFAULT_PAGE_SIZE)) or str(DEFAULT_PAGE_SIZE)
    if not raw_number.isdigit() or int(raw_number) < 1:
        raise invalid("page[number]", "page[number] must be a positive integer.")
    if not raw_size.isdigit() or not 1 <= int(raw_size) <= MAX_PAGE_SIZE:
        raise invalid("page[size]", f"page[size] must be between 1 and {MAX_PAGE_SIZE}.")
    number_, size = int(raw_number), int(raw_size)
    start = (number_ - 1) * size
    total = len(items)
    return {
        "data": list(items[start : start + size]),
        "meta": {
            "page_number": number_,
            "page_size": size,
            "total_pages": max(1, -(-total // size)),
            "total_results": total,
        },
    }
