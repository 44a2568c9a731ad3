"""Abuse limits: request rates per client IP and per account, and login lockout.

The client IP is REMOTE_ADDR, unless that is one of TRUSTED_PROXIES: then it is the
right-most X-Forwarded-For address that is not a trusted proxy, so a client cannot pick its
own IP by sending the header. Counters live in the shared cache (Redis in production), so
every web process sees the same counts.
"""

from __future__ import annotations

import hashlib
import ipaddress
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render


def _trusted(addr: str) -> bool:
    try:
        ip = ipaddress.ip_address(addr.strip())
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net, strict=False) for net in settings.TRUSTED_PROXIES)


def client_ip(request: HttpRequest) -> str:
    remote = request.META.get("REMOTE_ADDR", "")
    if not _trusted(remote):
        return remote
    hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop):
            return hop
    return remote


def ip_key(group: str, request: HttpRequest) -> str:
    return client_ip(request)


def _email_from(request: Any) -> str:
    data = getattr(request, "data", None)  # a DRF request: read what DRF parsed
    if data is None:
        data = request.POST
    value = data.get("email") or data.get("username") if hasattr(data, "get") else None
    return str(value or "").strip().lower()[:254]


def account_key(group: str, request: HttpRequest) -> str:
    return _email_from(request) or client_ip(request)


# --- login lockout ------------------------------------------------------------------------


def _lock_key(email: str) -> str:
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    return f"login-failures:{digest}"


def login_locked(email: str) -> bool:
    if not email:
        return False
    return int(cache.get(_lock_key(email), 0)) >= settings.LOGIN_LOCKOUT_FAILURES


def record_login_failure(email: str) -> None:
    if not email:
        return
    key = _lock_key(email)
    cache.add(key, 0, timeout=settings.LOGIN_LOCKOUT_SECONDS)
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=settings.LOGIN_LOCKOUT_SECONDS)


def clear_login_failures(email: str) -> None:
    cache.delete(_lock_key(email))


LOCKED_MESSAGE = (
    "Too many failed sign-ins for this account. Wait {minutes} minutes and try again, or reset "
    "your password."
)
LIMITED_MESSAGE = "Too many requests from here. Wait a few minutes and try again."


def too_many(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """The 429 answer: JSON for the API, a page for people (RATELIMIT_VIEW)."""
    message = getattr(exception, "message", None) or LIMITED_MESSAGE
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse({"detail": message}, status=429)
    else:
        response = render(request, "429.html", {"message": message}, status=429)
    response["Retry-After"] = "60"
    return response


def locked_message() -> str:
    return LOCKED_MESSAGE.format(minutes=max(1, settings.LOGIN_LOCKOUT_SECONDS // 60))
