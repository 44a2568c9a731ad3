"""`Authorization: Token <token>` for the user API, with errors that say what is wrong.

DRF's TokenAuthentication ignores an Authorization header that does not start with
`Token`, so a token sent bare (or as `Bearer`) gets "Authentication credentials were not
provided." although credentials were plainly sent. Here a header is either absent (then
the session, for the web app's own calls, or a 401 asking for credentials), or well formed,
or refused with a sentence naming the problem and the fix.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import TokenAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

FORMAT = "send `Authorization: Token <your token>` (the word Token, a space, then the token)"


class ApiTokenAuthentication(TokenAuthentication):
    def authenticate(self, request: Any) -> Any:
        header = get_authorization_header(request)
        if not header.strip():
            return None
        parts = header.split()
        scheme = parts[0].lower()
        if scheme == self.keyword.lower().encode():
            return super().authenticate(request)  # DRF's own messages for Token + junk
        if len(parts) == 1:
            raise AuthenticationFailed(
                f"Malformed Authorization header: the word Token is missing; {FORMAT}."
            )
        if scheme == b"bearer":
            raise AuthenticationFailed(
                f"Malformed Authorization header: Bearer is for agent service tokens; {FORMAT}."
            )
        raise AuthenticationFailed(
            f"Unsupported Authorization scheme: this API takes API tokens only; {FORMAT}."
        )


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """Documents the user token in the OpenAPI schema (/api/schema/)."""

    target_class = "tenants.api.auth.ApiTokenAuthentication"
    name = "tokenAuth"
    priority = 1  # before drf-spectacular's own, which matches TokenAuthentication subclasses

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "An API token from `POST /api/v1/auth/token`, sent as "
            "`Authorization: Token <token>`, for example "
            "`Authorization: Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b`.",
        }
