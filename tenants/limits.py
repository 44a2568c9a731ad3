"""The rate-limit decorators used by signup, sign-in, token and invitation views (rates from
settings)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import is_ratelimited
from django_ratelimit.decorators import ratelimit
from django_ratelimit.exceptions import Ratelimited

from tenants.ratelimit import account_key, ip_key, locked_message, login_locked


def _rate(name: str) -> Callable[[str, HttpRequest], str]:
    return lambda group, request: getattr(settings, name)


signup_limit = ratelimit(group="signup", key=ip_key, rate=_rate("RATELIMIT_SIGNUP"), method="POST")
login_ip_limit = ratelimit(
    group="login-ip", key=ip_key, rate=_rate("RATELIMIT_LOGIN_IP"), method="POST"
)
login_account_limit = ratelimit(
    group="login-account", key=account_key, rate=_rate("RATELIMIT_LOGIN_ACCOUNT"), method="POST"
)

# Opening and accepting invitation links, web and API, every method: the token cannot be
# guessed (256 bits), but the page creates accounts, so it is held to a signup-like budget.
invitation_limit = ratelimit(group="invitation", key=ip_key, rate=_rate("RATELIMIT_INVITATION"))


class AccountLocked(Ratelimited):
    def __init__(self) -> None:
        super().__init__(locked_message())
        self.message = locked_message()


def refuse_if_locked(email: Any, request: HttpRequest) -> None:
    if isinstance(email, str) and login_locked(email, request):
        raise AccountLocked


# Asking for a password reset link: per client IP (a 429 page), and per address, where going
# over the limit sends nothing but answers the same (so it says nothing about the address).
password_reset_limit = ratelimit(
    group="password-reset", key=ip_key, rate=_rate("RATELIMIT_PASSWORD_RESET"), method="POST"
)


def password_reset_email_allowed(request: HttpRequest, email: str) -> bool:
    return not is_ratelimited(
        request,
        group="password-reset-email",
        key=lambda group, request: email.strip().lower(),
        rate=settings.RATELIMIT_PASSWORD_RESET_EMAIL,
        increment=True,
    )
