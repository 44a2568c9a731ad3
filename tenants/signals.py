"""Count failed sign-ins per account and client (for the lockout) and forget them after a
success from that client."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from tenants.ratelimit import clear_login_failures, record_login_failure


@receiver(user_login_failed)
def _failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    email = str(credentials.get("username") or credentials.get("email") or "")
    record_login_failure(email, request)


@receiver(user_logged_in)
def _succeeded(sender: Any, user: Any, request: Any = None, **kwargs: Any) -> None:
    clear_login_failures(user.email, request)
