"""Staff admin: a clinic's hours and facts, its locations, and its receptionists' after-hours
behaviour.
Read-mostly: changes go through the clinic's own pages and API, which check them."""

from __future__ import annotations

from typing import ClassVar

from django.contrib import admin

from frontdesk.models import AfterHours, FrontDesk, Location


@admin.register(FrontDesk)
class FrontDeskAdmin(admin.ModelAdmin):
    list_display = ("clinic", "emergency_number", "version", "updated_at")
    search_fields = ("clinic__name", "clinic__slug")
    list_select_related = ("clinic",)
    readonly_fields: ClassVar = [f.name for f in FrontDesk._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(AfterHours)
class AfterHoursAdmin(admin.ModelAdmin):
    list_display = ("receptionist", "clinic", "action", "route_to", "version")
    list_filter = ("action",)
    search_fields = ("clinic__name", "receptionist__name")
    list_select_related = ("clinic", "receptionist", "route_to")
    readonly_fields: ClassVar = [f.name for f in AfterHours._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ("name", "clinic", "own_hours", "timezone", "version", "updated_at")
    list_filter = ("own_hours",)
    search_fields = ("name", "clinic__name", "clinic__slug")
    list_select_related = ("clinic",)
    readonly_fields: ClassVar = [f.name for f in Location._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False
