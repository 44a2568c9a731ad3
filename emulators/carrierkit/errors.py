"""An error a handler raises; each emulator renders it in its provider's body shape."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """``status`` is the HTTP status, ``code`` the provider's error code, ``message`` its
    sentence; ``extra`` goes into the body where the provider has a place for it."""

    def __init__(self, status: int, code: int | str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra
