"""The Telnyx emulator: bearer authentication, error bodies, JSON decoding, control routes.

Requests carry ``Authorization: Bearer <API v2 key>`` and JSON bodies. Errors are
``{"errors": [{"code", "title", "detail"[, "source"], "meta": {"url"}}]}`` with Telnyx's
codes (as strings).
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from emulators.carrierkit.app import RestEmulator, retry_after_header
from emulators.carrierkit.control import PREFIX, json_body, reply
from emulators.carrierkit.errors import ApiError
from emulators.livekit.faults import FaultRule

from . import connections, numbers, shapes
from .config import Config
from .store import TITLES, Store, error

STATUS_BY_CODE = {"10009": 401, "10010": 403, "10005": 404, "10011": 429, "10007": 500}
CODE_BY_STATUS = {401: "10009", 403: "10010", 404: "10005", 422: "10015", 429: "10011"}
DETAILS = {
    "10009": "The required authentication headers were either invalid or not included in the "
    "request.",
    "10011": "You have exceeded the maximum number of allowed requests.",
    "10007": "An unexpected error occured.",
}


class TelnyxEmulator(RestEmulator):
    def __init__(self, config: Config) -> None:
        super().__init__(
            request_log_size=config.request_log_size,
            allow_remote_control=config.allow_remote_control,
        )
        self.config = config
        self.store = Store(config)
        numbers.register(self)
        connections.register(self)
        self._control_routes()
        self.finish_routes()

    # -- the RestEmulator hooks -----------------------------------------------------------------
    def authenticate(self, request: web.Request) -> str:
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not key or key.strip() != self.store.api_key:
            raise error(401, "10009", DETAILS["10009"])
        return "key…" + key[-4:]

    def render_error(self, err: ApiError, retry_after: float | None = None) -> web.Response:
        code = str(err.code)
        item: dict[str, Any] = {
            "code": code,
            "title": TITLES.get(code, "Error"),
            "detail": err.message,
            "meta": {"url": f"https://developers.telnyx.com/docs/overview/errors/{code}"},
        }
        item.update(err.extra)
        return web.json_response(
            {"errors": [item]}, status=err.status, headers=retry_after_header(retry_after)
        )

    def fault_error(self, rule: FaultRule) -> ApiError:
        code = str(rule.code) if rule.code is not None else None
        status = rule.status
        if status is None:
            status = STATUS_BY_CODE.get(code or "", 422) if code is not None else 503
        if code is None:
            code = CODE_BY_STATUS.get(status, "10007")
        return error(status, code, rule.msg or DETAILS.get(code, f"emulated fault {code}"))

    async def parse(self, request: web.Request) -> tuple[dict[str, str], Any]:
        query = {k: v for k, v in request.query.items()}
        if request.method not in ("POST", "PATCH"):
            return query, None
        if request.content_type != "application/json":
            raise error(
                415,
                "10014",
                "The request failed because the server does not support the media type.",
            )
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            raise error(
                400, "10015", "The request failed because it was not well-formed."
            ) from None
        if not isinstance(body, dict):
            raise error(400, "10015", "The request body must be a JSON object.")
        return query, body

    def not_found(self, request: web.Request) -> ApiError:
        return error(404, "10005", "The requested resource or URL could not be found.")

    def state_json(self) -> dict[str, Any]:
        store = self.store
        conns = []
        for connection in store.connections.values():
            data = shapes.connection(connection)
            data["fqdns"] = [
                shapes.fqdn(f) for f in store.fqdns.values() if f.connection_id == connection.id
            ]
            data["phone_numbers"] = [
                n.phone_number for n in store.numbers.values() if n.connection_id == connection.id
            ]
            conns.append(data)
        return {
            "numbers": [shapes.number(store, n) for n in store.numbers.values()],
            "fqdn_connections": conns,
            "number_orders": [shapes.order(store, o) for o in store.orders.values()],
            "billing": {"funds": store.funds},
        }

    def reset_state(self) -> None:
        self.store.reset()

    # -- control routes of this emulator --------------------------------------------------------
    def _control_routes(self) -> None:
        store = self.store

        async def credentials(request: web.Request) -> web.Response:
            payload = await json_body(request)
            if isinstance(payload.get("api_key"), str):
                store.api_key = payload["api_key"]
            return reply({"ok": True})

        async def add_numbers(request: web.Request) -> web.Response:
            payload = await json_body(request)
            if payload.get("replace") is True:
                store.numbers.clear()
            added = []
            try:
                for raw in payload.get("numbers") or []:
                    number = store.add_number(
                        str(raw["phone_number"]), status=str(raw.get("status", "active"))
                    )
                    added.append(shapes.number(store, number))
            except (ApiError, KeyError, TypeError) as exc:
                return reply({"error": f"cannot add number: {exc}", "added": added}, 400)
            return reply({"numbers": added})

        async def billing(request: web.Request) -> web.Response:
            payload = await json_body(request)
            if isinstance(payload.get("funds"), bool):
                store.funds = payload["funds"]
            return reply({"funds": store.funds})

        self.app.router.add_post(f"{PREFIX}/credentials", credentials)
        self.app.router.add_post(f"{PREFIX}/billing", billing)
        self.app.router.add_post(f"{PREFIX}/numbers", add_numbers)
