"""`Authorization: Bearer <agent token>` for the agent config API, and nothing else."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission

from telephony.agent_tokens import agent_token_authenticate
from telephony.models import AgentToken


@dataclass(frozen=True)
class AgentPrincipal:
    """request.user for an agent: a service, not a person (no clinic memberships)."""

    token_name: str
    is_authenticated: bool = True
    is_staff: bool = False
    is_superuser: bool = False
    pk: None = None


class AgentTokenAuthentication(BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request: Any) -> tuple[AgentPrincipal, AgentToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None  # no credentials: the permission turns this into a 401
        if len(parts) != 2:
            raise AuthenticationFailed("Malformed Authorization header: 'Bearer <token>'.")
        try:
            raw = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise AuthenticationFailed("Invalid agent token.") from None
        token = agent_token_authenticate(raw)
        if token is None:
            raise AuthenticationFailed("Invalid or revoked agent token.")
        return AgentPrincipal(token_name=token.name), token

    def authenticate_header(self, request: Any) -> str:
        return 'Bearer realm="switchboard-agent"'


class IsAgent(BasePermission):
    def has_permission(self, request: Any, view: Any) -> bool:
        return isinstance(request.auth, AgentToken)


class AgentTokenScheme(OpenApiAuthenticationExtension):
    """Documents the agent token in the OpenAPI schema (/api/schema/)."""

    target_class = "telephony.api.auth.AgentTokenAuthentication"
    name = "agentToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "Agent service token"}
