"""Staff admin for webhook endpoints and their delivery logs (secrets never shown)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from webhooks import services
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ("url", "clinic", "enabled", "disabled_reason", "failing_since", "created_at")
    list_filter = ("enabled",)
    search_fields = ("url", "clinic__name", "clinic__slug")
    readonly_fields = (
        "id",
        "clinic",
        "failing_since",
        "previous_secret_until",
        "created_at",
        "updated_at",
    )
    fields = (
        "id",
        "clinic",
        "url",
        "events",
        "enabled",
        "disabled_reason",
        "failing_since",
        "previous_secret_until",
        "created_at",
        "updated_at",
    )
    actions = ("send_test_event", "enable", "disable")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # endpoints are added by the clinic (the secret is shown to them once)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        try:
            services.clean_url(obj.url)
            obj.events = services.clean_events(obj.events)
        except ValidationError as exc:
            self.message_user(request, "; ".join(exc.messages), messages.ERROR)
            return
        super().save_model(request, obj, form, change)

    @admin.action(description="Send a test event")
    def send_test_event(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        sent = 0
        for endpoint in queryset:
            try:
                services.endpoint_send_test(endpoint=endpoint)
                sent += 1
            except ValidationError as exc:
                self.message_user(request, f"{endpoint}: {'; '.join(exc.messages)}", messages.ERROR)
        self.message_user(request, f"Test event queued for {sent} endpoint(s).")

    @admin.action(description="Enable (send what waited)")
    def enable(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            services.endpoint_update(endpoint=endpoint, enabled=True)
        self.message_user(request, f"Enabled {queryset.count()} endpoint(s).")

    @admin.action(description="Disable")
    def disable(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            services.endpoint_update(endpoint=endpoint, enabled=False)
        self.message_user(request, f"Disabled {queryset.count()} endpoint(s).")


class AttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = ("at", "status_code", "latency_ms", "error", "response_excerpt")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "event_type",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "last_latency_ms",
        "next_attempt_at",
        "created_at",
    )
    list_filter = ("status",)
    search_fields = ("endpoint__url", "endpoint__clinic__slug")
    list_select_related = ("event", "endpoint")
    readonly_fields = (
        "endpoint",
        "event",
        "status",
        "attempts",
        "next_attempt_at",
        "lease_until",
        "last_status_code",
        "last_latency_ms",
        "last_error",
        "created_at",
        "finished_at",
    )
    exclude = ("lease_owner",)
    inlines = (AttemptInline,)
    actions = ("resend",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="event")
    def event_type(self, obj: WebhookDelivery) -> str:
        return obj.event.type

    @admin.action(description="Resend")
    def resend(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        done = 0
        for delivery in queryset:
            try:
                services.delivery_resend(delivery=delivery)
                done += 1
            except ValidationError as exc:
                self.message_user(
                    request, f"{delivery.pk}: {'; '.join(exc.messages)}", messages.ERROR
                )
        self.message_user(request, f"{done} delivery(ies) queued again.")
