"""The user and membership pages."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.http import HttpRequest

from tenants.models import Membership, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ("email",)
    list_display = ("email", "email_verified_at", "is_staff", "is_active", "date_joined")
    search_fields = ("email",)
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Verification", {"fields": ("email_verified_at",)}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    actions = ("reset_two_factor",)

    @admin.action(description="Reset two-factor sign-in (lost phone)", permissions=["change"])
    def reset_two_factor(self, request: HttpRequest, queryset: Any) -> None:
        """The person signs in with their password next time and sets up a new phone (or
        is asked to, when staff or a clinic requires it)."""
        from twofactor.services import turn_off

        for user in queryset:
            turn_off(user, by=request.user)
        self.message_user(
            request,
            f"Two-factor sign-in reset for {queryset.count()} account(s).",
            messages.SUCCESS,
        )


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "clinic", "role", "created_at")
    list_filter = ("role",)
    search_fields = ("user__email", "clinic__name", "clinic__slug")
    list_select_related = ("user", "clinic")
    autocomplete_fields = ("user", "clinic")
