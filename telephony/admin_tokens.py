"""Staff admin for agent service tokens (registered from TelephonyConfig.ready).

Adding a token shows its secret once, in a message; the hash is never displayed. Tokens are
revoked, not deleted, so "which token did that agent use" stays answerable.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from telephony.agent_tokens import agent_token_issue, agent_token_revoke
from telephony.models import AgentToken


@admin.register(AgentToken)
class AgentTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "created_at", "last_used_at", "revoked_at", "created_by")
    list_filter = ("revoked_at",)
    search_fields = ("name", "prefix")
    fields = ("name", "prefix", "created_at", "created_by", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "created_at", "created_by", "last_used_at", "revoked_at")
    actions = ("revoke",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None:
            return ("name", *self.readonly_fields)
        return self.readonly_fields

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            return  # nothing on an existing token is editable
        obj.created_by = request.user
        raw = agent_token_issue(token=obj)
        messages.warning(
            request,
            f"Agent token for {obj.name}: {raw} (copy it now; it will not be shown again).",
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[AgentToken]) -> None:
        count = 0
        for token in queryset.filter(revoked_at__isnull=True):
            agent_token_revoke(token=token)
            count += 1
        self.message_user(request, f"Revoked {count} token(s).", messages.SUCCESS)
