"""The control plane under ``/_emulator/`` (JSON, no auth, loopback peers only by default)
of every emulator, LiveKit's and the carriers': ``healthz``, ``state``, ``reset``,
``requests``, ``faults`` (GET, POST ``{"rules": [...]}``, DELETE). Each emulator adds its
own routes (LiveKit: simulated calls and webhook deliveries; carriers: credentials, seeded
numbers) with :func:`json_body` and :func:`reply`."""

from __future__ import annotations

import ipaddress
import json
from typing import Any, Protocol

from aiohttp import web

from emulators.livekit.faults import FaultSet, FaultSpecError
from emulators.livekit.requestlog import RequestLog

PREFIX = "/_emulator"


class Controlled(Protocol):
    """What the control plane drives: an emulator's app, request log and faults."""

    app: web.Application
    requests: RequestLog
    faults: FaultSet

    @property
    def allow_remote_control(self) -> bool: ...

    def health_json(self) -> dict[str, Any]:
        """Added to ``{"ok": true}`` by ``healthz``."""
        ...

    def state_json(self) -> dict[str, Any]: ...

    def reset(self) -> None:
        """Forget the stored objects, the request log and the faults."""
        ...


def reply(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, default=str))


async def any_json(request: web.Request) -> Any:
    """The JSON body, whatever its type ({} when empty); 400 when it is not JSON."""
    raw = await request.read()
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": f"invalid JSON: {exc}"}), content_type="application/json"
        ) from exc


async def json_body(request: web.Request) -> dict[str, Any]:
    data = await any_json(request)
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "expected a JSON object"}), content_type="application/json"
        )
    return data


def _is_loopback(remote: str | None) -> bool:
    if not remote:
        return False
    try:
        return ipaddress.ip_address(remote.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def add_routes(emu: Controlled) -> None:
    @web.middleware
    async def loopback_only(request: web.Request, handler: Any) -> web.StreamResponse:
        guarded = request.path.startswith(PREFIX + "/") and not emu.allow_remote_control
        if guarded and not _is_loopback(request.remote):
            return reply({"error": "the control plane only answers loopback peers"}, 403)
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


class ControlPlane:
    """The shared handlers of ``/_emulator/``."""

    def __init__(self, emu: Controlled) -> None:
        self.emu = emu

    async def healthz(self, _request: web.Request) -> web.Response:
        return reply({"ok": True, **self.emu.health_json()})

    async def state(self, _request: web.Request) -> web.Response:
        return reply(self.emu.state_json())

    async def reset(self, _request: web.Request) -> web.Response:
        self.emu.reset()
        return reply({"ok": True})

    async def requests(self, request: web.Request) -> web.Response:
        method = request.query.get("method") or None
        try:
            since = int(request.query.get("since", "0"))
        except ValueError:
            return reply({"error": "since must be an integer"}, 400)
        return reply(self.emu.requests.query(method, since))

    async def faults_get(self, _request: web.Request) -> web.Response:
        return reply({"rules": [r.to_json() for r in self.emu.faults.rules]})

    async def faults_post(self, request: web.Request) -> web.Response:
        payload = await any_json(request)
        raw_rules = payload.get("rules") if isinstance(payload, dict) else None
        try:
            installed = self.emu.faults.install(raw_rules)
        except FaultSpecError as exc:
            return reply({"error": str(exc)}, 400)
        return reply({"rules": [r.to_json() for r in installed]})

    async def faults_delete(self, _request: web.Request) -> web.Response:
        self.emu.faults.clear()
        return reply({"ok": True})
