"""The test control plane under ``/_emulator/`` (JSON, no auth, loopback peers only by default).

Shapes follow design.md §6. The shared part (``healthz``, ``state``, ``reset``,
``requests``, ``faults``) is carrierkit's; the LiveKit emulator adds simulated calls
(``POST calls``) and the webhooks it delivered (``GET webhooks``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web
from google.protobuf import json_format

from emulators.carrierkit import control as shared

from .calls import CallRequest, simulate
from .webhooks import call_events

if TYPE_CHECKING:
    from .server import Emulator
    from .store import Store

PREFIX = shared.PREFIX


def _dump(message: Any) -> dict[str, Any]:
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


def state_json(store: Store) -> dict[str, Any]:
    return {
        "inbound_trunks": [_dump(store.inbound.items[i]) for i in store.inbound.ids],
        "outbound_trunks": [_dump(store.outbound.items[i]) for i in store.outbound.ids],
        "dispatch_rules": [_dump(store.rules.items[i]) for i in store.rules.ids],
    }


def add_routes(emu: Emulator) -> None:
    shared.add_routes(emu)
    plane = CallsPlane(emu)
    emu.app.router.add_post(f"{PREFIX}/calls", plane.calls)
    emu.app.router.add_get(f"{PREFIX}/webhooks", plane.webhooks)


class CallsPlane:
    """``/_emulator/calls`` and ``/_emulator/webhooks``, over one emulator."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu

    async def calls(self, request: web.Request) -> web.Response:
        payload = await shared.json_body(request)
        caller, called = payload.get("from"), payload.get("to")
        if not isinstance(caller, str) or not isinstance(called, str) or not caller or not called:
            return shared.reply({"error": '"from" and "to" must be non-empty strings'}, 400)
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
        return shared.reply(result)

    async def webhooks(self, _request: web.Request) -> web.Response:
        emu = self.emu
        sender = emu.webhooks
        deliveries = list(sender.deliveries) if sender is not None else []
        pending = sender.pending if sender is not None else 0
        return shared.reply(
            {"deliveries": deliveries, "enabled": sender is not None, "pending": pending}
        )
