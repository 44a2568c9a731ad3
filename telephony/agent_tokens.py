"""Agent service tokens: issue, check and revoke. Only a token's SHA-256 is ever stored."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from audit.recorder import record
from telephony.models import AgentToken
from tenants.models import User

TOKEN_PREFIX = "sbat_"  # noqa: S105 - a public prefix ("Switchboard agent token"), not a secret
DISPLAY_LENGTH = 12
# last_used_at is a hint for operators, not an audit log: write it at most once a minute.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def agent_token_issue(*, token: AgentToken) -> str:
    """Give an unsaved token a fresh secret, save it, and return the secret (shown once)."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token.token_hash = hash_token(raw)
    token.prefix = raw[:DISPLAY_LENGTH]
    token.name = token.name.strip()
    token.full_clean()
    token.save()
    record("agent_token.create", target=token, actor=token.created_by)
    return raw


def agent_token_create(*, name: str, created_by: User | None = None) -> tuple[AgentToken, str]:
    token = AgentToken(name=name, created_by=created_by)
    return token, agent_token_issue(token=token)


def agent_token_revoke(*, token: AgentToken) -> None:
    with transaction.atomic():
        revoked = AgentToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        if revoked:
            record("agent_token.revoke", target=token)
    token.refresh_from_db(fields=["revoked_at"])


def agent_token_authenticate(raw: str) -> AgentToken | None:
    """The active token with this secret, or None. Records when it was last used."""
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    token = AgentToken.objects.filter(token_hash=hash_token(raw), revoked_at__isnull=True).first()
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        AgentToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
