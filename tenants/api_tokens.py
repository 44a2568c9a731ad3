"""API tokens for people's scripts: issue, check, list and revoke (decision 0020).

The same scheme as the agent tokens (telephony/agent_tokens.py): a token is `sbu_` and 32
random bytes in base64url, shown once; the database keeps its SHA-256 and a short prefix.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from audit.registry import api_token_event
from tenants.models import ApiToken, User
from tenants.text import validate_display_name

TOKEN_PREFIX = "sbu_"  # noqa: S105 - a public prefix ("Switchboard user token"), not a secret
DISPLAY_LENGTH = 12
MAX_NAME = 100
MAX_DAYS = 3650
# last_used_at is a hint for the owner, not an audit log: write it at most once a minute.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def display_prefix(raw: str) -> str:
    return raw[:DISPLAY_LENGTH] if raw.startswith(TOKEN_PREFIX) else raw[:6]


def api_token_create(*, user: User, name: str, days: int | None = None) -> tuple[ApiToken, str]:
    """A new token for `user`, valid for `days` (API_TOKEN_DEFAULT_DAYS when None). Returns
    the row and the secret, which is never shown again."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Give the token a name, e.g. the script that uses it."})
    if len(name) > MAX_NAME:
        raise ValidationError({"name": f"Use at most {MAX_NAME} characters."})
    validate_display_name(name, field="name")
    days = settings.API_TOKEN_DEFAULT_DAYS if days is None else days
    if not (isinstance(days, int) and 1 <= days <= MAX_DAYS):
        raise ValidationError({"expires_in_days": f"Use a whole number of days, 1 to {MAX_DAYS}."})
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = timezone.now()
    token = ApiToken.objects.create(
        user=user,
        name=name,
        token_hash=hash_token(raw),
        prefix=display_prefix(raw),
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    api_token_event(token, "api_token.create")
    return token, raw


def api_token_revoke(*, token: ApiToken) -> None:
    revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    token.refresh_from_db(fields=["revoked_at"])
    if revoked:
        api_token_event(token, "api_token.revoke")


def api_tokens_revoke_all(*, user: User) -> int:
    """Revoke every token of `user` (a new password: the tokens were issued for the old one)."""
    tokens = list(ApiToken.objects.filter(user=user, revoked_at__isnull=True))
    ApiToken.objects.filter(pk__in=[t.pk for t in tokens]).update(revoked_at=timezone.now())
    for token in tokens:
        api_token_event(token, "api_token.revoke")
    return len(tokens)


def api_token_authenticate(raw: str) -> tuple[ApiToken | None, str]:
    """(token, "") for a usable token, else (None, why): "invalid", "expired" or "revoked"."""
    if not raw or len(raw) > 200:
        return None, "invalid"
    token = ApiToken.objects.select_related("user").filter(token_hash=hash_token(raw)).first()
    if token is None or not token.user.is_active:
        return None, "invalid"
    if token.status != "active":
        return None, token.status
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token, ""
