"""The audit log: one table, django-auditlog's entry with the clinic, who acted and how.

django-auditlog writes the model history (AUDITLOG_LOGENTRY_MODEL points here); the
platform's actions without a model change of their own (go live, a password changed,
a token revoked) are written by `audit.record`. Entries are never updated: `save()` refuses
an existing row, and no page or API offers a change or a delete. Only the retention task
(`audit.purge`) deletes, by age.
"""

from __future__ import annotations

from typing import Any, ClassVar

from auditlog.models import AbstractLogEntry
from django.db import models

from audit.context import fill_in


class AuditEntryError(Exception):
    """An attempt to change an entry that has been written."""


class AuditEntry(AbstractLogEntry):
    class ActorKind(models.TextChoices):
        USER = "user", "clinic member"
        STAFF = "staff", "Switchboard staff"
        API_TOKEN = "api_token", "API token"
        SYSTEM = "system", "system"

    clinic = models.ForeignKey(
        "tenants.Clinic",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=True,
    )
    actor_kind = models.CharField(max_length=16, choices=ActorKind.choices, blank=True)
    # What happened, in one word pair: "clinic.update", "number.create", "clinic.go_live".
    event = models.CharField(max_length=60, db_index=True)

    class Meta(AbstractLogEntry.Meta):
        verbose_name = "audit log entry"
        verbose_name_plural = "audit log"
        indexes: ClassVar = [models.Index(fields=["clinic", "-timestamp"])]

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not self._state.adding:
            raise AuditEntryError("Audit log entries cannot be changed.")
        fill_in(self)
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise AuditEntryError("Audit log entries cannot be deleted; retention removes old ones.")
