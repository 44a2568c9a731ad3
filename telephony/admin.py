"""Staff admin for provisioning records (read-only: changes go through the services)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from telephony import project_admin
from telephony.models import (
    Call,
    CarrierAccount,
    NumberPurchase,
    NumberRelease,
    OrphanObject,
    ProjectMove,
    Provisioning,
    ProvisioningEvent,
    TestCall,
    UpstreamStatus,
)

__all__ = ["project_admin"]  # registers the LiveKit project pages


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
        "carrier_trunk_id",
        "attempts",
        "rate_limited_runs",
        "next_attempt_at",
        "converged_at",
    )
    list_filter = ("state",)
    search_fields = (
        "clinic__name",
        "clinic__slug",
        "trunk_id",
        "dispatch_rule_id",
        "carrier_trunk_id",
    )
    list_select_related = ("clinic",)
    exclude = ("trunk_applied_hash", "rule_applied_hash", "carrier_applied_hash")


@admin.register(CarrierAccount)
class CarrierAccountAdmin(ReadOnlyAdmin):
    """The clinic's carrier account without its secret; what the engine set up there is on
    the clinic's Provisioning row (carrier trunk ID) and in its dry run."""

    list_display = ("clinic", "provider", "state", "identifier", "checked_at", "connected_at")
    list_filter = ("provider", "state")
    search_fields = ("clinic__name", "clinic__slug", "account_sid")
    list_select_related = ("clinic",)
    fields = (
        "clinic",
        "provider",
        "identifier",
        "state",
        "status_message",
        "checked_at",
        "numbers_seen",
        "numbers_seen_at",
        "connected_at",
    )
    readonly_fields = fields


@admin.register(ProvisioningEvent)
class ProvisioningEventAdmin(ReadOnlyAdmin):
    list_display = ("at", "clinic", "generation", "action", "outcome", "detail", "actor")
    list_filter = ("outcome", "action")
    search_fields = ("clinic__name", "clinic__slug", "detail", "request_id")
    list_select_related = ("clinic", "actor")
    date_hierarchy = "at"


@admin.register(UpstreamStatus)
class UpstreamStatusAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "auth_failed_at", "last_drift_scan_at")
    readonly_fields = (
        "auth_failed_at",
        "auth_failed_detail",
        "last_drift_scan_at",
        "last_drift_scan",
    )
    exclude = ("auth_failed_fingerprint",)
    actions = ("clear_auth_circuit",)

    def has_run_provisioning_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("tenants.run_provisioning_actions")

    @admin.action(
        description="LiveKit credentials fixed: resume provisioning",
        permissions=["run_provisioning"],
    )
    def clear_auth_circuit(self, request: HttpRequest, queryset: Any) -> None:
        from telephony.provisioning.circuit import clear_circuit, resume_after_config_change

        clear_circuit()
        n = resume_after_config_change()
        self.message_user(request, f"Provisioning resumed for {n} clinic(s).")


@admin.register(Call)
class CallAdmin(ReadOnlyAdmin):
    """The call log from LiveKit's webhooks (callers masked to their last 4 digits)."""

    list_display = (
        "created_at",
        "clinic",
        "status",
        "caller_masked",
        "duration_seconds",
        "room_name",
        "mapped_by",
        "is_test",
    )
    list_filter = ("status", "is_test", "mapped_by")
    search_fields = ("clinic__name", "clinic__slug", "room_name", "room_sid", "trunk_id", "rule_id")
    list_select_related = ("clinic",)
    date_hierarchy = "created_at"


@admin.register(TestCall)
class TestCallAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "clinic", "mode", "number", "outcome", "passed")
    list_filter = ("mode", "passed")
    list_select_related = ("clinic",)


@admin.register(ProjectMove)
class ProjectMoveAdmin(ReadOnlyAdmin):
    """Moves between LiveKit projects (driven by `manage.py move_clinic`)."""

    list_display = ("clinic", "source", "target", "state", "detail", "created_at", "finished_at")
    list_filter = ("state", "source", "target")
    list_select_related = ("clinic", "source", "target")
    search_fields = ("clinic__name", "clinic__slug")


@admin.register(OrphanObject)
class OrphanObjectAdmin(ReadOnlyAdmin):
    list_display = (
        "object_id",
        "kind",
        "project",
        "clinic_ref",
        "name",
        "first_seen_at",
        "deleted_at",
    )
    list_filter = ("kind", "project")
    list_select_related = ("project",)
    search_fields = ("object_id", "clinic_ref", "name")


def ops_dashboard(request: HttpRequest) -> HttpResponse:
    """/admin/ops/: the operations dashboard (staff with view access to clinics)."""
    from telephony.console import ops_snapshot

    if not request.user.has_perm("tenants.view_clinic"):
        raise PermissionDenied
    context = {
        **admin.site.each_context(request),
        "title": "Operations",
        "ops": ops_snapshot(),
    }
    return TemplateResponse(request, "admin/ops_dashboard.html", context)


@admin.register(NumberPurchase)
class NumberPurchaseAdmin(ReadOnlyAdmin):
    """Each purchase intent with its state; ``creates_sent`` counts purchase requests sent
    to the carrier (more than one only after the carrier proved an earlier one did not
    happen)."""

    list_display = (
        "e164",
        "clinic",
        "provider",
        "state",
        "added",
        "attempts",
        "creates_sent",
        "created_at",
    )
    list_filter = ("state", "provider")
    search_fields = ("e164", "clinic__name", "clinic__slug", "carrier_id", "idempotency_key")
    list_select_related = ("clinic",)
    fields = (
        "id",
        "clinic",
        "provider",
        "e164",
        "state",
        "status_message",
        "added",
        "carrier_id",
        "order_id",
        "monthly_cost",
        "currency",
        "idempotency_key",
        "attempts",
        "creates_sent",
        "sent_at",
        "next_attempt_at",
        "lease_until",
        "requested_by",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields


@admin.register(NumberRelease)
class NumberReleaseAdmin(ReadOnlyAdmin):
    """Each release of a bought number; ``deletes_sent`` counts delete requests sent to the
    carrier (more than one only after a lost reply: a repeat names the same number ID)."""

    list_display = ("e164", "clinic", "provider", "state", "attempts", "deletes_sent", "created_at")
    list_filter = ("state", "provider")
    search_fields = ("e164", "clinic__name", "clinic__slug", "carrier_id")
    list_select_related = ("clinic",)
    fields = (
        "id",
        "clinic",
        "purchase",
        "provider",
        "e164",
        "state",
        "status_message",
        "carrier_id",
        "attempts",
        "deletes_sent",
        "next_attempt_at",
        "lease_until",
        "requested_by",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields
