"""Carrier failures, classified as the engine needs them: transient (retry with backoff),
credentials (the clinic's carrier status says so; nothing retried until they are fixed),
or a refusal that names what is wrong. Messages are sentences a clinic admin understands;
they never contain a credential."""

from __future__ import annotations


class CarrierError(Exception):
    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.retry_after = retry_after


class CarrierTransientError(CarrierError):
    """429, 5xx, a lost or unreadable reply: try again later."""


class CarrierCredentialsError(CarrierError):
    """The carrier rejected the credentials (wrong, revoked, account suspended)."""


class CarrierPermissionError(CarrierCredentialsError):
    """The credentials work but may not manage SIP trunking (a restricted key)."""


class CarrierRejectedError(CarrierError):
    """The carrier refused the request itself (a 4xx other than the above)."""


class CarrierNotFoundError(CarrierRejectedError):
    """The object is not (or no longer) at the carrier."""


class CarrierNumberError(CarrierRejectedError):
    """A chosen number cannot be attached: not in the account, or cannot take calls."""


class CarrierConflictError(CarrierRejectedError):
    """Something that is not the clinic's holds what it needs (a number attached to another
    trunk or connection): reported, never taken over."""
