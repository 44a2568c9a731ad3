"""The rate-limit decorators used by signup, sign-in, token and invitation views (rates from
settings)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest
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


def refuse_if_locked(email: Any) -> None:
    if isinstance(email, str) and login_locked(email):
        raise AccountLocked
