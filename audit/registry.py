"""Which models django-auditlog follows, and which fields it never records."""

from __future__ import annotations

from typing import Any

from auditlog.registry import auditlog
from auditlog.signals import post_log, pre_log

from audit.context import forget_instance, remember_instance
from audit.recorder import record

# Timestamps change on every save and say nothing; secrets must never reach the log
# (the carrier password is recorded as "changed" by telephony.services, without a value).
EXCLUDED = {
    "tenants.Clinic": ["created_at", "updated_at"],
    "telephony.PhoneNumber": ["created_at"],
    "telephony.TrunkSettings": ["auth_password", "updated_at"],
    "telephony.Receptionist": ["created_at", "updated_at"],
    "tenants.Membership": ["created_at"],
    "tenants.Invitation": ["token_hash", "created_at"],
    "telephony.CallLogPolicy": ["updated_at"],
    "telephony.LiveKitProject": ["api_secret", "webhook_secret", "created_at", "updated_at"],
    "frontdesk.FrontDesk": ["version", "updated_at"],
    "frontdesk.AfterHours": ["version", "updated_at"],
    "frontdesk.Location": ["version", "created_at", "updated_at"],
}


def register_models() -> None:
    from django.apps import apps

    for label, excluded in EXCLUDED.items():
        model = apps.get_model(label)
        if not auditlog.contains(model):
            auditlog.register(model, exclude_fields=excluded)
    pre_log.connect(remember_instance, dispatch_uid="audit-remember-instance")
    post_log.connect(forget_instance, dispatch_uid="audit-forget-instance")


def api_token_event(token: Any, event: str) -> None:
    """A user's API token opens every clinic they belong to: each clinic's log shows it
    created or revoked (by name and prefix; tenants.api_tokens calls this)."""
    from tenants.models import Membership

    user = token.user
    for membership in Membership.objects.filter(user=user).select_related("clinic"):
        record(event, clinic=membership.clinic, target=token, actor=user)
