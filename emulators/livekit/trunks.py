"""The ``livekit.SIP`` trunk handlers: inbound, outbound and the deprecated legacy listing.

Reference: livekit-sip.md §4. Each handler validates, checks conflicts against the candidates
LiveKit would list, awaits the ``before_store`` hook and stores (see service.py).
"""

from __future__ import annotations

from collections.abc import Iterable

from google.protobuf.message import Message
from livekit.protocol import sip as proto_sip

from . import validation as v
from .conflicts import find_trunk_conflict
from .errors import invalid_argument, not_found
from .handlers import HandlerBase, Updatable, clone
from .ids import TRUNK_PREFIX, new_id
from .store import Store

TRUNK_NOT_FOUND = "requested sip trunk does not exist"
INBOUND = Updatable(
    "trunk",
    "sip_trunk_id",
    v.check_inbound_info,
    v.check_inbound_update,
    v.apply_inbound_update,
    TRUNK_NOT_FOUND,
)
OUTBOUND = Updatable(
    "trunk",
    "sip_trunk_id",
    v.check_outbound_info,
    v.check_outbound_update,
    v.apply_outbound_update,
    TRUNK_NOT_FOUND,
)


class TrunkHandlers(HandlerBase):
    def _inbound_candidate_ids(self, numbers: Iterable[str]) -> set[str] | list[str]:
        numbers = list(numbers)
        if numbers:
            return self.store.inbound_for_numbers(numbers)
        return self.store.inbound.ids  # no numbers: LiveKit lists every trunk

    async def create_inbound(self, req: proto_sip.CreateSIPInboundTrunkRequest) -> Message:
        if not req.HasField("trunk"):
            raise invalid_argument("missing trunk")
        info = clone(req.trunk)
        if info.sip_trunk_id:
            raise invalid_argument("trunk id must not be set")
        v.check_inbound_info(info)
        table = self.store.inbound
        listed = [table.items[i] for i in sorted(self._inbound_candidate_ids(info.numbers))]
        problem = find_trunk_conflict([*listed, info])
        if problem:
            raise invalid_argument(problem)
        await self.before_store("CreateSIPInboundTrunk")
        info.sip_trunk_id = self._fresh_trunk_id()
        self._stamp(info)
        self.store.put_inbound(info)
        return info

    async def update_inbound(self, req: proto_sip.UpdateSIPInboundTrunkRequest) -> Message:
        info, stored = self._updated(req, self.store.inbound, INBOUND)
        ids = self._inbound_candidate_ids(info.numbers)
        listed = self._substitute(
            self.store.inbound, ids, info, "sip_trunk_id", self.options.strict_update_conflicts
        )
        problem = find_trunk_conflict(listed)
        if problem:
            raise invalid_argument(problem)
        await self.before_store("UpdateSIPInboundTrunk")
        self._stamp(info, stored)
        self.store.put_inbound(info)
        return info

    async def get_inbound(self, req: proto_sip.GetSIPInboundTrunkRequest) -> Message:
        if not req.sip_trunk_id:
            raise invalid_argument("trunk ID is required")
        info = self.store.inbound.items.get(req.sip_trunk_id)
        if info is None:
            raise not_found(TRUNK_NOT_FOUND)
        return proto_sip.GetSIPInboundTrunkResponse(trunk=info)

    async def list_inbound(self, req: proto_sip.ListSIPInboundTrunkRequest) -> Message:
        store = self.store
        items = self._listed(
            req, store.inbound, req.trunk_ids, req.numbers, store.inbound_for_numbers
        )
        return proto_sip.ListSIPInboundTrunkResponse(items=items)

    # -- outbound trunks --------------------------------------------------------------------
    async def create_outbound(self, req: proto_sip.CreateSIPOutboundTrunkRequest) -> Message:
        if not req.HasField("trunk"):
            raise invalid_argument("missing trunk")
        info = clone(req.trunk)
        if info.sip_trunk_id:
            raise invalid_argument("trunk id must not be set")
        v.check_outbound_info(info)
        await self.before_store("CreateSIPOutboundTrunk")
        info.sip_trunk_id = self._fresh_trunk_id()
        self._stamp(info)
        self.store.put_outbound(info)
        return info

    async def update_outbound(self, req: proto_sip.UpdateSIPOutboundTrunkRequest) -> Message:
        info, stored = self._updated(req, self.store.outbound, OUTBOUND)
        await self.before_store("UpdateSIPOutboundTrunk")
        self._stamp(info, stored)
        self.store.put_outbound(info)
        return info

    async def get_outbound(self, req: proto_sip.GetSIPOutboundTrunkRequest) -> Message:
        if not req.sip_trunk_id:
            raise invalid_argument("trunk ID is required")
        info = self.store.outbound.items.get(req.sip_trunk_id)
        if info is None:
            raise not_found(TRUNK_NOT_FOUND)
        return proto_sip.GetSIPOutboundTrunkResponse(trunk=info)

    async def list_outbound(self, req: proto_sip.ListSIPOutboundTrunkRequest) -> Message:
        store = self.store
        items = self._listed(
            req, store.outbound, req.trunk_ids, req.numbers, store.outbound_for_numbers
        )
        return proto_sip.ListSIPOutboundTrunkResponse(items=items)

    async def delete_trunk(self, req: proto_sip.DeleteSIPTrunkRequest) -> Message:
        if not req.sip_trunk_id:
            raise invalid_argument("trunk ID is required")
        # OSS deletes with HDEL and never checks existence: an unknown ID succeeds (§4.5).
        self.store.delete_trunk(req.sip_trunk_id)
        return proto_sip.SIPTrunkInfo(sip_trunk_id=req.sip_trunk_id)

    async def list_legacy_trunks(self, req: proto_sip.ListSIPTrunkRequest) -> Message:
        """Deprecated ListSIPTrunk: both kinds, converted to the legacy SIPTrunkInfo."""
        store = self.store
        ids = list(store.inbound.ids) + list(store.outbound.ids)
        page = req.page if req.HasField("page") else None
        items = [_legacy(store, i) for i in self._page(ids, page)]
        return proto_sip.ListSIPTrunkResponse(items=items)

    def _fresh_trunk_id(self) -> str:
        while True:
            trunk_id = new_id(TRUNK_PREFIX)
            if (
                trunk_id not in self.store.inbound.items
                and trunk_id not in self.store.outbound.items
            ):
                return trunk_id


def _legacy(store: Store, trunk_id: str) -> proto_sip.SIPTrunkInfo:
    inbound = store.inbound.items.get(trunk_id)
    if inbound is not None:
        return proto_sip.SIPTrunkInfo(
            sip_trunk_id=trunk_id,
            kind=proto_sip.SIPTrunkInfo.TRUNK_INBOUND,
            name=inbound.name,
            metadata=inbound.metadata,
            outbound_number=inbound.numbers[0] if inbound.numbers else "",
            inbound_addresses=list(inbound.allowed_addresses),
            inbound_numbers=list(inbound.allowed_numbers),
            inbound_username=inbound.auth_username,
            inbound_password=inbound.auth_password,
        )
    outbound = store.outbound.items[trunk_id]
    return proto_sip.SIPTrunkInfo(
        sip_trunk_id=trunk_id,
        kind=proto_sip.SIPTrunkInfo.TRUNK_OUTBOUND,
        name=outbound.name,
        metadata=outbound.metadata,
        outbound_address=outbound.address,
        transport=outbound.transport,
        outbound_number=outbound.numbers[0] if outbound.numbers else "",
        outbound_username=outbound.auth_username,
        outbound_password=outbound.auth_password,
    )
