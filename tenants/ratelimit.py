"""Abuse limits: request rates per client IP and per account, and login lockout.

The client IP is REMOTE_ADDR, unless that is one of TRUSTED_PROXIES: then it is the
right-most X-Forwarded-For address that is not a trusted proxy, so a client cannot pick its
own IP by sending the header. Counters live in the shared cache (Redis in production), so
every web process sees the same counts.
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse


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
    """One account from one client: an attacker hammering someone's email uses up their own
    budget, not the owner's (who signs in from elsewhere)."""
    email = _email_from(request)
    return f"{email}|{client_ip(request)}" if email else client_ip(request)


# --- login lockout ------------------------------------------------------------------------
#
# Failed sign-ins are counted per account *and client* (docs/decisions/0022): five wrong
# passwords for an email from one client stop that client from trying that account (even
# with the right password) for LOGIN_LOCKOUT_SECONDS; the owner, from their own client, signs
# in as usual. A password reset starts every client's count afresh (the account's epoch).


def _digest(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def _epoch_key(email: str) -> str:
    return f"login-epoch:{_digest(email.strip().lower())}"


def _lock_key(email: str, request: HttpRequest | None) -> str:
    email = email.strip().lower()
    epoch = str(cache.get(_epoch_key(email), "0"))
    client = client_ip(request) if request is not None else ""
    return f"login-failures:{_digest(email, epoch, client)}"


def login_locked(email: str, request: HttpRequest | None) -> bool:
    if not email:
        return False
    return int(cache.get(_lock_key(email, request), 0)) >= settings.LOGIN_LOCKOUT_FAILURES


def record_login_failure(email: str, request: HttpRequest | None) -> None:
    if not email:
        return
    key = _lock_key(email, request)
    cache.add(key, 0, timeout=settings.LOGIN_LOCKOUT_SECONDS)
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=settings.LOGIN_LOCKOUT_SECONDS)


def clear_login_failures(email: str, request: HttpRequest | None) -> None:
    cache.delete(_lock_key(email, request))


def forget_all_login_failures(email: str) -> None:
    """After a password reset: every client's failures for this account no longer count."""
    cache.set(_epoch_key(email), secrets.token_hex(8), timeout=None)


LOCKED_MESSAGE = (
    "Too many failed sign-ins for this account from here. Wait {minutes} minutes and try "
    "again, or reset your password at {reset}."
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
    reset = settings.PUBLIC_BASE_URL.rstrip("/") + reverse("tenants:password_reset")
    return LOCKED_MESSAGE.format(minutes=max(1, settings.LOGIN_LOCKOUT_SECONDS // 60), reset=reset)
