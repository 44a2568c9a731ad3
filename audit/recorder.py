"""Entries written on purpose, for actions without a model change of their own; every
entry is completed from the request of the moment by `audit.context.fill_in`."""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models

from audit.models import AuditEntry


def record(
    event: str,
    *,
    clinic: Any = None,
    target: models.Model | None = None,
    changes: dict[str, Any] | None = None,
    actor: Any = None,
    extra: dict[str, Any] | None = None,
) -> AuditEntry:
    """Write an entry for an action (go live, a secret changed, a token revoked).

    `target` is the object acted on (the clinic when omitted); `changes` follows
    django-auditlog's shape, {field: [old, new]}, and must never hold a secret.
    """
    subject = target if target is not None else clinic
    if subject is None:
        raise ValueError("An audit entry needs a clinic or a target.")
    entry = AuditEntry(
        content_type=ContentType.objects.get_for_model(subject),
        object_pk=str(subject.pk),
        object_id=subject.pk if isinstance(subject.pk, int) else None,
        object_repr=str(subject)[:200],
        action=AuditEntry.Action.UPDATE,
        changes=changes or {},
        event=event,
        clinic_id=getattr(clinic, "pk", None),
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        additional_data=extra or None,
    )
    entry.save()
    return entry
