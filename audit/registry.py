"""Which models django-auditlog follows, and which fields it never records."""

from __future__ import annotations

from typing import Any

from auditlog.registry import auditlog
from auditlog.signals import post_log, pre_log
from django.db.models.signals import post_delete, post_save

from audit.recorder import forget_instance, record, remember_instance, token_label

# Timestamps change on every save and say nothing; secrets must never reach the log
# (the carrier password is recorded as "changed" by telephony.services, without a value).
EXCLUDED = {
    "tenants.Clinic": ["created_at", "updated_at"],
    "telephony.PhoneNumber": ["created_at"],
    "telephony.TrunkSettings": ["auth_password", "updated_at"],
    "telephony.AgentConfig": ["updated_at"],
    "tenants.Membership": ["created_at"],
    "tenants.Invitation": ["token_hash", "created_at"],
    "telephony.CallLogPolicy": ["updated_at"],
}


def register_models() -> None:
    from django.apps import apps

    for label, excluded in EXCLUDED.items():
        model = apps.get_model(label)
        if not auditlog.contains(model):
            auditlog.register(model, exclude_fields=excluded)
    pre_log.connect(remember_instance, dispatch_uid="audit-remember-instance")
    post_log.connect(forget_instance, dispatch_uid="audit-forget-instance")
    register_api_tokens()


def _api_token_event(token: Any, event: str) -> None:
    """A user's API token opens every clinic they belong to: each clinic's log shows it."""
    from tenants.models import Membership

    user = token.user
    for membership in Membership.objects.filter(user=user).select_related("clinic"):
        record(
            event,
            clinic=membership.clinic,
            target=user,
            actor=user,
            extra={"token": token_label(token)},
        )


def api_token_saved(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    if created:
        _api_token_event(instance, "api_token.create")


def api_token_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    _api_token_event(instance, "api_token.revoke")


def register_api_tokens() -> None:
    from rest_framework.authtoken.models import Token

    post_save.connect(api_token_saved, sender=Token, dispatch_uid="audit-api-token-saved")
    post_delete.connect(api_token_deleted, sender=Token, dispatch_uid="audit-api-token-deleted")
