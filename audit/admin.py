"""Staff read the whole audit log in admin; nobody adds, changes or deletes an entry."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from audit.models import AuditEntry
from audit.presenting import change_lines

# django-auditlog registers its own admin for the entry model; this one replaces it.
if admin.site.is_registered(AuditEntry):
    admin.site.unregister(AuditEntry)


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    date_hierarchy = "timestamp"
    list_display = ("timestamp", "clinic", "event", "object_repr", "actor_email", "actor_kind")
    list_filter = ("actor_kind", "event")
    list_select_related = ("clinic",)
    search_fields = ("clinic__name", "clinic__slug", "actor_email", "object_repr", "event")
    show_full_result_count = False
    fields = (
        "timestamp",
        "clinic",
        "event",
        "object_repr",
        "actor_email",
        "actor_kind",
        "remote_addr",
        "what_changed",
        "additional_data",
    )
    readonly_fields = fields

    @admin.display(description="What changed")
    def what_changed(self, entry: AuditEntry) -> str:
        return "\n".join(change_lines(entry)) or "—"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
