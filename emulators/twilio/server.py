"""The Twilio emulator: authentication, error bodies, request decoding and control routes.

Requests are form-encoded (``application/x-www-form-urlencoded``) with HTTP basic auth: the
account SID and auth token, or an API key SID (``SK…``) and its secret. Errors are
``{"code", "message", "more_info", "status"}`` with Twilio's codes.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from aiohttp import web

from emulators.carrierkit.app import RestEmulator, retry_after_header
from emulators.carrierkit.control import PREFIX, json_body, reply
from emulators.carrierkit.errors import ApiError
from emulators.livekit.faults import FaultRule

from . import api2010, shapes, trunking
from .config import ApiKey, Config
from .store import Store

AUTHENTICATE = 20003
FORBIDDEN = 70051
TOO_MANY = 20429
MESSAGES = {
    AUTHENTICATE: "Authenticate",
    TOO_MANY: "Too Many Requests",
    20404: "The requested resource was not found",
    20500: "Internal Server Error",
    20503: "Service Unavailable",
}
STATUS_BY_CODE = {AUTHENTICATE: 401, FORBIDDEN: 403, 20404: 404, TOO_MANY: 429, 20500: 500}
CODE_BY_STATUS = {400: 20001, 401: AUTHENTICATE, 403: FORBIDDEN, 404: 20404, 429: TOO_MANY}


def _unauthenticated(message: str = "Authenticate") -> ApiError:
    return ApiError(401, AUTHENTICATE, message)


class TwilioEmulator(RestEmulator):
    def __init__(self, config: Config) -> None:
        super().__init__(
            request_log_size=config.request_log_size,
            allow_remote_control=config.allow_remote_control,
        )
        self.config = config
        self.store = Store(config)
        api2010.register(self)
        trunking.register(self)
        self._control_routes()
        self.finish_routes()

    # -- the RestEmulator hooks -----------------------------------------------------------------
    def authenticate(self, request: web.Request) -> str:
        header = request.headers.get("Authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic" or not encoded:
            raise _unauthenticated("Authentication Error - No credentials provided")
        try:
            username, _, password = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise _unauthenticated("Authentication Error - invalid username") from None
        store = self.store
        key: ApiKey | None = store.api_keys.get(username)
        if username == store.account_sid and password == store.auth_token:
            principal = username
        elif key is not None and password == key.secret:
            principal = key.sid
        else:
            raise _unauthenticated()
        account = request.match_info.get("account")
        if account is not None and account != store.account_sid:
            raise _unauthenticated()
        if request.path.startswith("/v1/") and key is not None and not key.trunking:
            raise ApiError(403, FORBIDDEN, "Authorization Failed: the API key lacks permission")
        return principal

    def render_error(self, error: ApiError, retry_after: float | None = None) -> web.Response:
        body = {
            "code": error.code,
            "message": error.message,
            "more_info": f"https://www.twilio.com/docs/errors/{error.code}",
            "status": error.status,
        }
        headers = retry_after_header(retry_after) or {}
        if error.status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
        return web.json_response(body, status=error.status, headers=headers or None)

    def fault_error(self, rule: FaultRule) -> ApiError:
        code = int(rule.code) if rule.code is not None and str(rule.code).isdigit() else None
        status = rule.status
        if status is None:
            status = STATUS_BY_CODE.get(code, 400) if code is not None else 503
        if code is None:
            code = CODE_BY_STATUS.get(status, 20500 if status != 503 else 20503)
        return ApiError(status, code, rule.msg or MESSAGES.get(code, f"emulated fault {code}"))

    async def parse(self, request: web.Request) -> tuple[dict[str, str], Any]:
        params = {k: v for k, v in request.query.items()}
        if request.method == "POST" and request.content_type == "application/x-www-form-urlencoded":
            form = await request.post()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
        return params, None

    def not_found(self, request: web.Request) -> ApiError:
        return ApiError(404, 20404, f"The requested resource {request.path} was not found")

    def state_json(self) -> dict[str, Any]:
        store = self.store
        trunks = []
        for trunk in store.trunks.values():
            data = shapes.trunk(store, trunk)
            data["origination_urls"] = [
                shapes.origination_url(store, u)
                for u in store.urls.values()
                if u.trunk_sid == trunk.sid
            ]
            data["phone_numbers"] = [
                n.phone_number for n in store.numbers.values() if n.trunk_sid == trunk.sid
            ]
            trunks.append(data)
        return {
            "account_sid": store.account_sid,
            "numbers": [shapes.incoming_number(store, n) for n in store.numbers.values()],
            "trunks": trunks,
            "reserved_domains": sorted(store.released_domains),
            "taken_elsewhere": sorted(store.taken_elsewhere),
            "billing": {"trial": store.trial, "funds": store.funds},
        }

    def reset_state(self) -> None:
        self.store.reset()

    # -- control routes of this emulator --------------------------------------------------------
    def _control_routes(self) -> None:
        store = self.store

        async def credentials(request: web.Request) -> web.Response:
            payload = await json_body(request)
            if isinstance(payload.get("auth_token"), str):
                store.auth_token = payload["auth_token"]
            if isinstance(payload.get("api_keys"), list):
                store.api_keys = {
                    k["sid"]: ApiKey(k["sid"], k["secret"], bool(k.get("trunking", True)))
                    for k in payload["api_keys"]
                }
            return reply({"ok": True, "api_keys": sorted(store.api_keys)})

        async def numbers(request: web.Request) -> web.Response:
            payload = await json_body(request)
            if payload.get("replace") is True:
                store.numbers.clear()
            added = []
            try:
                for raw in payload.get("numbers") or []:
                    number = store.add_number(
                        str(raw["phone_number"]),
                        voice=bool(raw.get("voice", True)),
                        sms=bool(raw.get("sms", True)),
                    )
                    added.append(shapes.incoming_number(store, number))
            except (ApiError, KeyError, TypeError) as exc:
                return reply({"error": f"cannot add number: {exc}", "added": added}, 400)
            return reply({"numbers": added})

        async def domains(request: web.Request) -> web.Response:
            payload = await json_body(request)
            store.taken_elsewhere.update(str(d).lower() for d in payload.get("taken") or [])
            return reply({"taken_elsewhere": sorted(store.taken_elsewhere)})

        async def billing(request: web.Request) -> web.Response:
            payload = await json_body(request)
            if isinstance(payload.get("trial"), bool):
                store.trial = payload["trial"]
            if isinstance(payload.get("funds"), bool):
                store.funds = payload["funds"]
            return reply({"trial": store.trial, "funds": store.funds})

        self.app.router.add_post(f"{PREFIX}/credentials", credentials)
        self.app.router.add_post(f"{PREFIX}/billing", billing)
        self.app.router.add_post(f"{PREFIX}/numbers", numbers)
        self.app.router.add_post(f"{PREFIX}/domains", domains)
