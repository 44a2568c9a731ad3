"""The ``livekit.SIP`` handlers: create, update, get, list and delete, as OSS LiveKit runs them.

The handlers are in trunks.py and rules.py, their shared helpers in handlers.py.
Reference: livekit-sip.md §4. Each handler validates, checks conflicts against the candidates
LiveKit would list, awaits the ``before_store`` hook (where a ``toctou_delay`` fault can widen the
check-then-store window, as LiveKit's store is not atomic either) and stores.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message
from livekit.protocol import sip as proto_sip

from .errors import TwirpError
from .handlers import BeforeStore, ServiceOptions
from .rules import RuleHandlers
from .store import Store
from .trunks import TrunkHandlers


@dataclass(frozen=True)
class MethodSpec:
    request: type[Message]
    response: type[Message]
    grant: str  # "admin", "call" or "transfer"


_GRANTS = {"CreateSIPParticipant": "call", "TransferSIPParticipant": "transfer"}


def _method_specs() -> dict[str, MethodSpec]:
    """All 16 RPCs of ``service SIP``, read from the installed livekit-protocol descriptor."""
    service = proto_sip.DESCRIPTOR.services_by_name["SIP"]
    return {
        m.name: MethodSpec(
            getattr(proto_sip, m.input_type.name),
            getattr(proto_sip, m.output_type.name),
            _GRANTS.get(m.name, "admin"),
        )
        for m in service.methods
    }


METHODS: dict[str, MethodSpec] = _method_specs()


class SipService(TrunkHandlers, RuleHandlers):
    """Routes each RPC of ``service SIP`` to its handler."""

    def __init__(
        self, store: Store, options: ServiceOptions, before_store: BeforeStore | None = None
    ) -> None:
        super().__init__(store, options, before_store)
        self._handlers: dict[str, Callable[[Any], Awaitable[Message]]] = {
            "ListSIPTrunk": self.list_legacy_trunks,
            "CreateSIPInboundTrunk": self.create_inbound,
            "CreateSIPOutboundTrunk": self.create_outbound,
            "UpdateSIPInboundTrunk": self.update_inbound,
            "UpdateSIPOutboundTrunk": self.update_outbound,
            "GetSIPInboundTrunk": self.get_inbound,
            "GetSIPOutboundTrunk": self.get_outbound,
            "ListSIPInboundTrunk": self.list_inbound,
            "ListSIPOutboundTrunk": self.list_outbound,
            "DeleteSIPTrunk": self.delete_trunk,
            "CreateSIPDispatchRule": self.create_rule,
            "UpdateSIPDispatchRule": self.update_rule,
            "ListSIPDispatchRule": self.list_rules,
            "DeleteSIPDispatchRule": self.delete_rule,
            "CreateSIPParticipant": self.unimplemented,
            "TransferSIPParticipant": self.unimplemented,
        }

    async def handle(self, method: str, request: Message) -> Message:
        return await self._handlers[method](request)

    async def unimplemented(self, _request: Message) -> Message:
        raise TwirpError("unimplemented", "the emulator does not place or transfer SIP calls")


__all__ = ["METHODS", "MethodSpec", "ServiceOptions", "SipService"]
