"""Resources as Twilio writes them, and its two kinds of pages.

The 2010 API (api.twilio.com) dates things in RFC 2822 and pages with top-level
``*_page_uri`` fields (relative URIs); the v1 trunking API dates in ISO 8601 and pages with a
``meta`` object whose ``*_url`` fields are absolute. Both take ``PageSize`` (at most 1000),
``Page`` and ``PageToken``. Links name the real hosts, as Twilio does; a client pointed at the
emulator swaps the host for the emulator's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlencode

from .store import Number, OriginationUrl, Store, Trunk, invalid

API = "https://api.twilio.com"
TRUNKING = "https://trunking.twilio.com"
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


def rfc2822(value: datetime) -> str:
    return format_datetime(value, usegmt=False).replace("-0000", "+0000")


def iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def incoming_number(store: Store, n: Number) -> dict[str, Any]:
    base = f"/2010-04-01/Accounts/{store.account_sid}/IncomingPhoneNumbers/{n.sid}"
    return {
        "account_sid": store.account_sid,
        "address_requirements": "none",
        "address_sid": None,
        "api_version": "2010-04-01",
        "beta": False,
        "bundle_sid": None,
        "capabilities": {"voice": n.voice, "sms": n.sms, "mms": n.sms, "fax": False},
        "date_created": rfc2822(n.created),
        "date_updated": rfc2822(n.updated),
        "emergency_address_sid": None,
        "emergency_address_status": "unregistered",
        "emergency_status": "Inactive",
        "friendly_name": n.friendly_name,
        "identity_sid": None,
        "origin": "twilio",
        "phone_number": n.phone_number,
        "sid": n.sid,
        "sms_application_sid": "",
        "sms_fallback_method": "POST",
        "sms_fallback_url": "",
        "sms_method": "POST",
        "sms_url": "",
        "status": "in-use",
        "status_callback": "",
        "status_callback_method": "POST",
        "subresource_uris": {"assigned_add_ons": f"{base}/AssignedAddOns.json"},
        "trunk_sid": n.trunk_sid,
        "uri": f"{base}.json",
        "voice_application_sid": None,
        "voice_caller_id_lookup": False,
        "voice_fallback_method": "POST",
        "voice_fallback_url": None,
        "voice_method": "POST",
        "voice_receive_mode": "voice",
        "voice_url": n.voice_url or None,
    }


def trunk_number(store: Store, n: Number) -> dict[str, Any]:
    data = incoming_number(store, n)
    for key in ("uri", "subresource_uris", "status", "origin", "identity_sid", "bundle_sid"):
        data.pop(key, None)
    data["date_created"] = iso(n.created)
    data["date_updated"] = iso(n.updated)
    data["url"] = f"{TRUNKING}/v1/Trunks/{n.trunk_sid}/PhoneNumbers/{n.sid}"
    data["links"] = {"phone_number": f"{API}{incoming_number(store, n)['uri']}"}
    return data


def trunk(store: Store, t: Trunk) -> dict[str, Any]:
    url = f"{TRUNKING}/v1/Trunks/{t.sid}"
    return {
        "account_sid": store.account_sid,
        "auth_type": "",
        "auth_type_set": [],
        "cnam_lookup_enabled": t.cnam_lookup_enabled,
        "date_created": iso(t.created),
        "date_updated": iso(t.updated),
        "disaster_recovery_method": t.disaster_recovery_method,
        "disaster_recovery_url": t.disaster_recovery_url,
        "domain_name": t.domain_name,
        "friendly_name": t.friendly_name,
        "links": {
            "origination_urls": f"{url}/OriginationUrls",
            "credential_lists": f"{url}/CredentialLists",
            "ip_access_control_lists": f"{url}/IpAccessControlLists",
            "phone_numbers": f"{url}/PhoneNumbers",
            "recording": f"{url}/Recording",
        },
        "recording": {"mode": "do-not-record", "trim": "do-not-trim"},
        "secure": t.secure,
        "sid": t.sid,
        "symmetric_rtp_enabled": False,
        "transfer_caller_id": "from-transferee",
        "transfer_mode": "disable-all",
        "url": url,
    }


def origination_url(store: Store, u: OriginationUrl) -> dict[str, Any]:
    return {
        "account_sid": store.account_sid,
        "date_created": iso(u.created),
        "date_updated": iso(u.updated),
        "enabled": u.enabled,
        "friendly_name": u.friendly_name,
        "priority": u.priority,
        "sid": u.sid,
        "sip_url": u.sip_url,
        "trunk_sid": u.trunk_sid,
        "url": f"{TRUNKING}/v1/Trunks/{u.trunk_sid}/OriginationUrls/{u.sid}",
        "weight": u.weight,
    }


def _paging(params: dict[str, str]) -> tuple[int, int]:
    raw_size = params.get("PageSize", "") or str(DEFAULT_PAGE_SIZE)
    raw_page = params.get("Page", "") or "0"
    if not raw_size.isdigit() or not raw_page.isdigit() or int(raw_size) < 1:
        raise invalid("PageSize and Page must be non-negative integers (PageSize at least 1)")
    return min(int(raw_size), MAX_PAGE_SIZE), int(raw_page)


def _query(params: dict[str, str], size: int, page: int, token: str | None) -> str:
    kept = {k: v for k, v in params.items() if k not in ("PageSize", "Page", "PageToken")}
    paging = {"PageSize": str(size), "Page": str(page)}
    if token:
        paging["PageToken"] = token
    return urlencode({**kept, **paging})


def page_2010(
    path: str, key: str, items: Sequence[dict[str, Any]], params: dict[str, str]
) -> dict[str, Any]:
    size, page = _paging(params)
    start = size * page
    chunk = list(items[start : start + size])
    has_next = start + size < len(items)
    token = f"PA{page + 1}" if has_next else None
    return {
        key: chunk,
        "end": start + max(len(chunk), 1) - 1,
        "first_page_uri": f"{path}?{_query(params, size, 0, None)}",
        "next_page_uri": f"{path}?{_query(params, size, page + 1, token)}" if has_next else None,
        "page": page,
        "page_size": size,
        "previous_page_uri": (
            f"{path}?{_query(params, size, page - 1, f'PB{page - 1}')}" if page > 0 else None
        ),
        "start": start,
        "uri": f"{path}?{_query(params, size, page, params.get('PageToken'))}",
    }


def page_v1(
    path: str, key: str, items: Sequence[dict[str, Any]], params: dict[str, str]
) -> dict[str, Any]:
    size, page = _paging(params)
    start = size * page
    chunk = list(items[start : start + size])
    has_next = start + size < len(items)
    url = f"{TRUNKING}{path}"
    return {
        key: chunk,
        "meta": {
            "first_page_url": f"{url}?{_query(params, size, 0, None)}",
            "key": key,
            "next_page_url": (
                f"{url}?{_query(params, size, page + 1, f'PA{page + 1}')}" if has_next else None
            ),
            "page": page,
            "page_size": size,
            "previous_page_url": (
                f"{url}?{_query(params, size, page - 1, f'PB{page - 1}')}" if page > 0 else None
            ),
            "url": f"{url}?{_query(params, size, page, params.get('PageToken'))}",
        },
    }
