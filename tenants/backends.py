"""Authentication that respects the login lockout everywhere (web, API token, admin)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from tenants.ratelimit import login_locked


class LockoutModelBackend(ModelBackend):
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        if username and login_locked(username, request):
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
