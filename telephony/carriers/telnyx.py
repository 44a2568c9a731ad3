"""Telnyx through its own library (``telnyx``), with its retries off (the engine retries)
and ``base_url`` set from TELNYX_API_BASE_URL when that is set. The library is large, so it
is imported when a Telnyx client is first built, not with this module."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from telephony.carriers.base import AccountNumber, paced
from telephony.carriers.errors import (
    CarrierCredentialsError,
    CarrierError,
    CarrierNotFoundError,
    CarrierPermissionError,
    CarrierRejectedError,
    CarrierTransientError,
)

T = TypeVar("T")
REJECTED = "Telnyx rejected this API key: check that it is an API v2 key of your account."
NO_PERMISSION = "This Telnyx key may not manage SIP connections and numbers."


def _first_error(body: Any) -> tuple[str, str]:
    errors = body.get("errors") if isinstance(body, dict) else body
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        return str(first.get("code", "")), str(first.get("detail") or first.get("title") or "")
    return "", ""


def _retry_after(headers: Any) -> float | None:
    raw = headers.get("retry-after") if headers is not None else None
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:
        return None


def classify(status: int, body: Any, retry_after: float | None) -> CarrierError:
    code, detail = _first_error(body)
    kind: type[CarrierError]
    if status == 429 or code == "10011":
        kind, message = CarrierTransientError, "Telnyx asked us to slow down; retrying."
    elif status >= 500:
        kind, message = CarrierTransientError, "Telnyx had a temporary problem; retrying."
    elif status == 401 or code == "10009":
        kind, message = CarrierCredentialsError, REJECTED
    elif status == 403 or code == "10010":
        kind, message = CarrierPermissionError, NO_PERMISSION
    elif status == 404:
        kind, message = CarrierNotFoundError, f"Telnyx: {detail or 'not found'}"
    else:
        kind, message = CarrierRejectedError, f"Telnyx refused: {detail} (error {code})"
    return kind(message, status=status, code=code, retry_after=retry_after)


class TelnyxCarrier:
    name = "Telnyx"

    def __init__(self, *, api_key: str, base_url: str, timeout: float) -> None:
        import telnyx

        self._telnyx = telnyx
        self.client = telnyx.Telnyx(
            api_key=api_key, base_url=base_url or None, max_retries=0, timeout=timeout
        )

    limiter: Any = None  # the account's rate limiter (telephony.ratelimit), when set

    def _call(self, fn: Callable[[], T]) -> T:
        return paced(self.limiter, lambda: self._request(fn))

    def _request(self, fn: Callable[[], T]) -> T:
        telnyx = self._telnyx
        try:
            return fn()
        except telnyx.APIStatusError as exc:
            retry = _retry_after(exc.response.headers)
            raise classify(exc.status_code, exc.body, retry) from None
        except telnyx.APITimeoutError:
            raise CarrierTransientError("Telnyx did not answer in time; retrying.") from None
        except telnyx.APIConnectionError:
            raise CarrierTransientError("Telnyx could not be reached; retrying.") from None
        except telnyx.APIResponseValidationError:
            raise CarrierTransientError("Telnyx sent a reply that could not be read.") from None

    def check(self) -> None:
        """Two reads: a page of FQDN connections (the key may manage SIP) and of numbers."""
        self._call(lambda: self.client.fqdn_connections.list(page_size=1))
        self._call(lambda: self.client.phone_numbers.list(page_size=1))

    def numbers(self, e164: str = "") -> list[AccountNumber]:
        """Every number of the account, or (with ``e164``) the ones matching it."""

        def every() -> list[Any]:
            if e164:
                found = self.client.phone_numbers.list(filter={"phone_number": e164})
                return list(found)
            return list(self.client.phone_numbers.list(page_size=250))

        result = []
        for number in self._call(every):
            active = number.status == "active"
            result.append(
                AccountNumber(
                    e164=str(number.phone_number),
                    carrier_id=str(number.id),
                    attached_to=number.connection_id or None,
                    usable=active,
                    why_not="" if active else f"This number is {number.status} at Telnyx.",
                )
            )
        return result
