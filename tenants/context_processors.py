"""Settings the base template needs: the email banner shows only when it really blocks."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def flags(request: HttpRequest) -> dict[str, bool]:
    return {"require_email_verification": bool(settings.REQUIRE_EMAIL_VERIFICATION)}
