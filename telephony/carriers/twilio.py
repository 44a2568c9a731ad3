"""Twilio through its own library (``twilio``): classification of its errors, and the HTTP
client that points it at TWILIO_API_BASE_URL (an emulator) when that is set.

The library raises ``TwilioRestException`` (status, code) for single objects, but a plain
``TwilioException("Unable to fetch page", response)`` when a list page fails, and lets
``requests`` errors through for lost replies; ``_classified`` turns all of them into
``CarrierError`` subclasses. Its own retries stay off: the engine retries, with backoff.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

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
REJECTED = "Twilio rejected these credentials: check the account SID and the auth token or API key."
NO_TRUNKING = (
    "This Twilio key cannot manage SIP trunking: use the auth token, a standard API key, or "
    "give the key the Elastic SIP Trunking permissions."
)
SUSPENDED = "Twilio says this account is suspended or closed."
# The library logs every request and response at INFO; ours says what matters.
logging.getLogger("twilio.http_client").setLevel(logging.WARNING)


class _HttpClient(TwilioHttpClient):
    """Twilio's HTTP client, keeping the last response's headers (for Retry-After) and, with
    a base URL, sending what is meant for *.twilio.com there instead."""

    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.base = urlsplit(base_url) if base_url else None
        self.last_headers: dict[str, str] = {}

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        parts = urlsplit(url)
        if self.base is not None and (parts.hostname or "").endswith(".twilio.com"):
            url = urlunsplit((self.base.scheme, self.base.netloc, parts.path, parts.query, ""))
        self.last_headers = {}
        response = super().request(method, url, *args, **kwargs)
        self.last_headers = dict(response.headers or {})
        return response


def _retry_after(headers: dict[str, str]) -> float | None:
    raw = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:
        return None


def classify(
    status: int, code: int | None, message: str, retry_after: float | None
) -> CarrierError:
    kind: type[CarrierError]
    if status == 429 or code == 20429:
        kind, text = CarrierTransientError, "Twilio asked us to slow down; retrying."
    elif status >= 500:
        kind, text = CarrierTransientError, "Twilio had a temporary problem; retrying."
    elif code == 20003 or status == 401:
        kind, text = CarrierCredentialsError, REJECTED
    elif code == 70051 or (status == 403 and code != 20403):
        kind, text = CarrierPermissionError, NO_TRUNKING
    elif code == 20403:
        kind, text = CarrierCredentialsError, SUSPENDED
    elif status == 404:
        kind, text = CarrierNotFoundError, f"Twilio: {message}"
    else:
        kind, text = CarrierRejectedError, f"Twilio refused: {message} (error {code})"
    return kind(text, status=status, code=str(code or ""), retry_after=retry_after)


class TwilioCarrier:
    name = "Twilio"

    def __init__(
        self, *, account_sid: str, secret: str, api_key_sid: str = "", base_url: str, timeout: float
    ) -> None:
        self.http = _HttpClient(base_url, timeout)
        self.client = Client(
            api_key_sid or account_sid, secret, account_sid=account_sid, http_client=self.http
        )

    limiter: Any = None  # the account's rate limiter (telephony.ratelimit), when set

    def _call(self, fn: Callable[[], T]) -> T:
        return paced(self.limiter, lambda: self._request(fn))

    def _request(self, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except TwilioRestException as exc:
            code = int(exc.code) if str(exc.code or "").isdigit() else None
            message = str(exc.msg).split(": ", 1)[-1]
            raise classify(
                exc.status, code, message, _retry_after(self.http.last_headers)
            ) from None
        except TwilioException as exc:  # a list page that failed carries the response
            response = exc.args[1] if len(exc.args) > 1 else None
            if response is None or not hasattr(response, "status_code"):
                raise CarrierTransientError("Twilio sent a reply that could not be read.") from None
            try:
                body = json.loads(response.text)
            except ValueError:
                body = {}
            code = body.get("code") if isinstance(body.get("code"), int) else None
            message = str(body.get("message", "error"))
            retry = _retry_after(dict(response.headers or {}))
            raise classify(response.status_code, code, message, retry) from None
        except requests.Timeout:
            raise CarrierTransientError("Twilio did not answer in time; retrying.") from None
        except (requests.RequestException, ValueError):
            raise CarrierTransientError("Twilio could not be reached; retrying.") from None

    def check(self) -> None:
        """Two reads: a page of the account's numbers (the account SID and credentials), and
        a page of trunks (the permission to manage SIP trunking)."""
        self._call(lambda: self.client.incoming_phone_numbers.page(page_size=1))
        self._call(lambda: self.client.trunking.v1.trunks.page(page_size=1))

    def numbers(self, e164: str = "") -> list[AccountNumber]:
        """Every number of the account, or (with ``e164``) the ones matching it."""
        filters = {"phone_number": e164} if e164 else {}
        listed = self._call(
            lambda: self.client.incoming_phone_numbers.list(page_size=1000, **filters)
        )
        result = []
        for number in listed:
            voice = bool((number.capabilities or {}).get("voice"))
            result.append(
                AccountNumber(
                    e164=str(number.phone_number),
                    carrier_id=str(number.sid),
                    attached_to=number.trunk_sid or None,
                    usable=voice,
                    why_not="" if voice else "This number cannot take voice calls.",
                )
            )
        return result
