"""`Authorization: Token <token>` for the user API, with errors that say what is wrong.

DRF's TokenAuthentication ignores an Authorization header that does not start with
`Token`, so a token sent bare (or as `Bearer`) gets "Authentication credentials were not
provided." although credentials were plainly sent. Here a header is either absent (then
the session, for the web app's own calls, or a 401 asking for credentials), or well formed,
or refused with a sentence naming the problem and the fix.

Tokens are stored hashed (tenants/api_tokens.py, decision 0020); an expired or revoked token
gets a 401 that says which, so the owner knows to make a new one.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from tenants.api_tokens import api_token_authenticate

FORMAT = "send `Authorization: Token <your token>` (the word Token, a space, then the token)"


WHY = {
    "invalid": "Invalid token.",
    "expired": "This API token has expired; create a new one (Account > API tokens, or "
    "POST /api/v1/auth/token).",
    "revoked": "This API token was revoked; create a new one (Account > API tokens, or "
    "POST /api/v1/auth/token).",
}


class ApiTokenAuthentication(BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request: Any) -> Any:
        header = get_authorization_header(request)
        if not header.strip():
            return None
        parts = header.split()
        scheme = parts[0].lower()
        if scheme == self.keyword.lower().encode():
            return self._check(parts)
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

    def _check(self, parts: list[bytes]) -> Any:
        if len(parts) == 1:
            raise AuthenticationFailed("Invalid token header. No credentials provided.")
        if len(parts) > 2:
            raise AuthenticationFailed(
                "Invalid token header. Token string should not contain spaces."
            )
        try:
            raw = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise AuthenticationFailed(
                "Invalid token header. Token string should not contain invalid characters."
            ) from None
        token, why = api_token_authenticate(raw)
        if token is None:
            raise AuthenticationFailed(WHY[why])
        return token.user, token

    def authenticate_header(self, request: Any) -> str:
        return self.keyword


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
            "description": "An API token from `POST /api/v1/auth/token` or `POST "
            "/api/v1/tokens/`, sent as `Authorization: Token <token>`, for example "
            "`Authorization: Token sbu_8Jq0c3vV2x...`.",
        }
