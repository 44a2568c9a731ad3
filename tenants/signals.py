"""Count failed sign-ins per account (for the lockout) and forget them after a success."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from tenants.ratelimit import clear_login_failures, record_login_failure


@receiver(user_login_failed)
def _failed(sender: Any, credentials: dict[str, Any], **kwargs: Any) -> None:
    record_login_failure(str(credentials.get("username") or credentials.get("email") or ""))


@receiver(user_logged_in)
def _succeeded(sender: Any, user: Any, **kwargs: Any) -> None:
    clear_login_failures(user.email)
