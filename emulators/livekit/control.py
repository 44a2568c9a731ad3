"""The test control plane under ``/_emulator/`` (JSON, no auth, loopback peers only by default).

Shapes follow design.md §6.
"""

from __future__ import annotations

import ipaddress
import json
from typing import TYPE_CHECKING, Any

from aiohttp import web
from google.protobuf import json_format

from .calls import CallRequest, simulate
from .faults import FaultSpecError
from .webhooks import call_events

if TYPE_CHECKING:
    from .server import Emulator

PREFIX = "/_emulator"


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, default=str))


def _dump(message: Any) -> dict[str, Any]:
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


def _is_loopback(remote: str | None) -> bool:
    if not remote:
        return False
    try:
        return ipaddress.ip_address(remote.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


async def _body(request: web.Request) -> Any:
    raw = await request.read()
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": f"invalid JSON: {exc}"}), content_type="application/json"
        ) from exc


def add_routes(emu: Emulator) -> None:
    @web.middleware
    async def loopback_only(request: web.Request, handler: Any) -> web.StreamResponse:
        guarded = request.path.startswith(PREFIX + "/") and not emu.config.allow_remote_control
        if guarded and not _is_loopback(request.remote):
            return _json({"error": "the control plane only answers loopback peers"}, 403)
        response: web.StreamResponse = await handler(request)
        return response

    emu.app.middlewares.append(loopback_only)
    plane = ControlPlane(emu)
    router = emu.app.router
    router.add_get(f"{PREFIX}/healthz", plane.healthz)
    router.add_get(f"{PREFIX}/state", plane.state)
    router.add_post(f"{PREFIX}/reset", plane.reset)
    router.add_get(f"{PREFIX}/requests", plane.requests)
    router.add_get(f"{PREFIX}/faults", plane.faults_get)
    router.add_post(f"{PREFIX}/faults", plane.faults_post)
    router.add_delete(f"{PREFIX}/faults", plane.faults_delete)
    router.add_post(f"{PREFIX}/calls", plane.calls)
    router.add_get(f"{PREFIX}/webhooks", plane.webhooks)


class ControlPlane:
    """The handlers of ``/_emulator/``, over one emulator's store, logs and faults."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu

    async def healthz(self, _request: web.Request) -> web.Response:
        return _json({"ok": True, **self.emu.store.counts()})

    async def state(self, _request: web.Request) -> web.Response:
        store = self.emu.store
        return _json(
            {
                "inbound_trunks": [_dump(store.inbound.items[i]) for i in store.inbound.ids],
                "outbound_trunks": [_dump(store.outbound.items[i]) for i in store.outbound.ids],
                "dispatch_rules": [_dump(store.rules.items[i]) for i in store.rules.ids],
            }
        )

    async def reset(self, _request: web.Request) -> web.Response:
        emu = self.emu
        emu.store.clear()
        emu.requests.clear()
        emu.faults.clear()
        if emu.webhooks is not None:
            emu.webhooks.deliveries.clear()
        return _json({"ok": True})

    async def requests(self, request: web.Request) -> web.Response:
        method = request.query.get("method") or None
        try:
            since = int(request.query.get("since", "0"))
        except ValueError:
            return _json({"error": "since must be an integer"}, 400)
        return _json(self.emu.requests.query(method, since))

    async def faults_get(self, _request: web.Request) -> web.Response:
        return _json({"rules": [r.to_json() for r in self.emu.faults.rules]})

    async def faults_post(self, request: web.Request) -> web.Response:
        payload = await _body(request)
        raw_rules = payload.get("rules") if isinstance(payload, dict) else None
        try:
            installed = self.emu.faults.install(raw_rules)
        except FaultSpecError as exc:
            return _json({"error": str(exc)}, 400)
        return _json({"rules": [r.to_json() for r in installed]})

    async def faults_delete(self, _request: web.Request) -> web.Response:
        self.emu.faults.clear()
        return _json({"ok": True})

    async def calls(self, request: web.Request) -> web.Response:
        payload = await _body(request)
        if not isinstance(payload, dict):
            return _json({"error": "expected a JSON object"}, 400)
        caller, called = payload.get("from"), payload.get("to")
        if not isinstance(caller, str) or not isinstance(called, str) or not caller or not called:
            return _json({"error": '"from" and "to" must be non-empty strings'}, 400)
        call = CallRequest(
            caller=caller,
            called=called,
            source_ip=str(payload.get("source_ip") or ""),
            from_host=str(payload.get("from_host") or ""),
            pin=str(payload.get("pin") or ""),
            no_pin=bool(payload.get("no_pin", False)),
        )
        emu = self.emu
        result = simulate(emu.store, call, require_trunk=emu.config.require_trunk_for_calls)
        if result["result"] == "dispatch" and emu.webhooks is not None:
            emu.webhooks.enqueue(call_events(result))
            result["webhooks"] = "queued"
        return _json(result)

    async def webhooks(self, _request: web.Request) -> web.Response:
        emu = self.emu
        deliveries = list(emu.webhooks.deliveries) if emu.webhooks is not None else []
        return _json({"deliveries": deliveries, "enabled": emu.webhooks is not None})
