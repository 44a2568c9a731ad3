"""Staff admin for provisioning records: read-only, because every change to them goes
through the services (tenants.admin's clinic actions) or the reconcile engine."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from telephony.models import OrphanObject, Provisioning, ProvisioningEvent, UpstreamStatus


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Provisioning)
class ProvisioningAdmin(ReadOnlyAdmin):
    list_display = (
        "clinic",
        "state",
        "generation",
        "observed_generation",
        "trunk_id",
        "dispatch_rule_id",
        "attempts",
        "next_attempt_at",
        "last_error",
    )
    list_filter = ("state",)
    search_fields = ("clinic__name", "clinic__slug", "trunk_id", "dispatch_rule_id")
    list_select_related = ("clinic",)
    # Internal bookkeeping of reconcile, meaningless to a person.
    exclude = ("trunk_applied_hash", "rule_applied_hash")


@admin.register(ProvisioningEvent)
class ProvisioningEventAdmin(ReadOnlyAdmin):
    list_display = ("at", "clinic", "generation", "action", "outcome", "duration_ms", "actor")
    list_filter = ("outcome", "action")
    search_fields = ("clinic__name", "clinic__slug", "detail", "request_id")
    list_select_related = ("clinic", "actor")
    date_hierarchy = "at"


@admin.register(UpstreamStatus)
class UpstreamStatusAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "auth_failed_at", "last_drift_scan_at")
    exclude = ("auth_failed_fingerprint",)


@admin.register(OrphanObject)
class OrphanObjectAdmin(ReadOnlyAdmin):
    list_display = ("object_id", "kind", "clinic_ref", "name", "first_seen_at", "deleted_at")
    list_filter = ("kind",)
    search_fields = ("object_id", "clinic_ref", "name")
