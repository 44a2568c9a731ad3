"""The ``livekit.SIP`` handlers: create, update, get, list and delete, as OSS LiveKit runs them.

Reference: livekit-sip.md §4. Each handler validates, checks conflicts against the candidates
LiveKit would list, awaits the ``before_store`` hook (where a ``toctou_delay`` fault can widen the
check-then-store window, as LiveKit's store is not atomic either) and stores.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from google.protobuf.message import Message
from livekit.protocol import models as proto_models
from livekit.protocol import sip as proto_sip

from . import validation as v
from .conflicts import find_rule_conflict, find_trunk_conflict, rule_conflict_message, rule_keys
from .errors import TwirpError, invalid_argument, not_found
from .ids import RULE_PREFIX, TRUNK_PREFIX, new_id
from .store import SortedTable, Store

M = TypeVar("M", bound=Message)
BeforeStore = Callable[[str], Awaitable[None]]

TRUNK_NOT_FOUND = "requested sip trunk does not exist"
RULE_NOT_FOUND = "requested sip dispatch rule does not exist"


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


@dataclass(frozen=True)
class ServiceOptions:
    honour_list_limit: bool = False  # OSS walks every page and ignores limit
    strict_update_conflicts: bool = False  # OSS leaves the update gap of §4.2 open
    set_timestamps: bool = False  # OSS never sets created_at / updated_at


def clone(message: M) -> M:
    copy = type(message)()
    copy.CopyFrom(message)
    return copy


async def _no_delay(_method: str) -> None:
    return None


class SipService:
    def __init__(
        self, store: Store, options: ServiceOptions, before_store: BeforeStore | None = None
    ) -> None:
        self.store = store
        self.options = options
        self.before_store = before_store or _no_delay
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

    # -- helpers ----------------------------------------------------------------------------
    def _stamp(self, info: Any, previous: Any | None = None) -> None:
        if not self.options.set_timestamps:
            return
        now = time.time()
        if previous is not None and previous.HasField("created_at"):
            info.created_at.CopyFrom(previous.created_at)
        elif previous is None:
            info.created_at.FromNanoseconds(int(now * 1e9))
        info.updated_at.FromNanoseconds(int(now * 1e9))

    def _page(self, ids: Iterable[str], page: proto_models.Pagination | None) -> list[str]:
        ordered = sorted(ids)
        if page is None:
            return ordered
        if page.after_id:
            ordered = [i for i in ordered if i > page.after_id]
        if self.options.honour_list_limit and page.limit > 0:
            ordered = ordered[: page.limit]
        return ordered

    @staticmethod
    def _substitute(
        table: SortedTable[M], ids: Iterable[str], updated: M, key: str, strict: bool
    ) -> list[M]:
        """Candidates sorted by ID with the updated object in place of its stored version."""
        updated_id = getattr(updated, key)
        listed: list[M] = []
        found = False
        for object_id in sorted(ids):
            if object_id == updated_id:
                listed.append(updated)
                found = True
            else:
                listed.append(table.items[object_id])
        if strict and not found:
            listed.append(updated)
        return listed

    # -- inbound trunks ---------------------------------------------------------------------
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
        trunk_id = req.sip_trunk_id
        action = self._update_action(req, trunk_id, "trunk id must be set")
        if action == "replace":
            self._check_replace_id(req.replace.sip_trunk_id, trunk_id, "trunk")
            v.check_inbound_info(req.replace)
        else:
            v.check_inbound_update(req.update)
        stored = self.store.inbound.items.get(trunk_id)
        if stored is None:
            raise not_found(TRUNK_NOT_FOUND)
        if action == "replace":
            info = clone(req.replace)
            info.sip_trunk_id = trunk_id
        else:
            info = clone(stored)
            v.apply_inbound_update(info, req.update)
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
        ids: Iterable[str]
        if req.trunk_ids:
            wanted = set(req.numbers)
            ids = [i for i in set(req.trunk_ids) if i in store.inbound.items]
            if wanted:
                ids = set(ids) & store.inbound_for_numbers(wanted)
        elif req.numbers:
            ids = store.inbound_for_numbers(req.numbers)
        else:
            ids = store.inbound.ids
        page = req.page if req.HasField("page") else None
        items = [store.inbound.items[i] for i in self._page(ids, page)]
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
        trunk_id = req.sip_trunk_id
        action = self._update_action(req, trunk_id, "trunk id must be set")
        if action == "replace":
            self._check_replace_id(req.replace.sip_trunk_id, trunk_id, "trunk")
            v.check_outbound_info(req.replace)
        else:
            v.check_outbound_update(req.update)
        stored = self.store.outbound.items.get(trunk_id)
        if stored is None:
            raise not_found(TRUNK_NOT_FOUND)
        if action == "replace":
            info = clone(req.replace)
            info.sip_trunk_id = trunk_id
        else:
            info = clone(stored)
            v.apply_outbound_update(info, req.update)
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
        ids: Iterable[str]
        if req.trunk_ids:
            ids = [i for i in set(req.trunk_ids) if i in store.outbound.items]
            if req.numbers:
                ids = set(ids) & store.outbound_for_numbers(req.numbers)
        elif req.numbers:
            ids = store.outbound_for_numbers(req.numbers)
        else:
            ids = store.outbound.ids
        page = req.page if req.HasField("page") else None
        items = [store.outbound.items[i] for i in self._page(ids, page)]
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

    # -- dispatch rules ---------------------------------------------------------------------
    async def create_rule(self, req: proto_sip.CreateSIPDispatchRuleRequest) -> Message:
        legacy_trunks: list[str] = []
        if req.HasField("dispatch_rule"):
            info = clone(req.dispatch_rule)
            if info.sip_dispatch_rule_id:
                raise invalid_argument("rule id must not be set")
        else:
            info = _rule_from_legacy(req)
            legacy_trunks = list(req.trunk_ids)
        v.check_rule_info(info)
        if legacy_trunks:
            table = self.store.rules
            listed = [table.items[i] for i in sorted(self.store.rules_for_trunks(legacy_trunks))]
            conflict = find_rule_conflict([*listed, info])
        else:
            conflict = self._rule_conflict_against_all(info)
        if conflict is not None:
            raise conflict
        await self.before_store("CreateSIPDispatchRule")
        info.sip_dispatch_rule_id = self._fresh_rule_id()
        self._stamp(info)
        self.store.put_rule(info)
        return info

    def _rule_conflict_against_all(self, info: proto_sip.SIPDispatchRuleInfo) -> TwirpError | None:
        """Same answer as validating every stored rule plus ``info``, in O(keys) normally."""
        keys = list(rule_keys(info))  # raises for an unset rule oneof, as LiveKit does
        if self.store.stored_rules_clash:
            table = self.store.rules
            return find_rule_conflict([*(table.items[i] for i in table.ids), info])
        for key in keys:
            holders = self.store.rule_key_holders(key)
            if holders:
                return invalid_argument(rule_conflict_message(self.store.rules.items[min(holders)]))
        return None

    async def update_rule(self, req: proto_sip.UpdateSIPDispatchRuleRequest) -> Message:
        rule_id = req.sip_dispatch_rule_id
        action = self._update_action(req, rule_id, "rule id must be set")
        if action == "replace":
            self._check_replace_id(req.replace.sip_dispatch_rule_id, rule_id, "rule")
            v.check_rule_info(req.replace)
        else:
            v.check_rule_update(req.update)
        stored = self.store.rules.items.get(rule_id)
        if stored is None:
            raise not_found(RULE_NOT_FOUND)
        if action == "replace":
            info = clone(req.replace)
            info.sip_dispatch_rule_id = rule_id
        else:
            info = clone(stored)
            v.apply_rule_update(info, req.update)
        ids = (
            self.store.rules_for_trunks(info.trunk_ids) if info.trunk_ids else self.store.rules.ids
        )
        listed = self._substitute(
            self.store.rules,
            ids,
            info,
            "sip_dispatch_rule_id",
            self.options.strict_update_conflicts,
        )
        conflict = find_rule_conflict(listed)
        if conflict is not None:
            raise conflict
        await self.before_store("UpdateSIPDispatchRule")
        self._stamp(info, stored)
        self.store.put_rule(info)
        return info

    async def list_rules(self, req: proto_sip.ListSIPDispatchRuleRequest) -> Message:
        store = self.store
        ids: Iterable[str]
        if req.dispatch_rule_ids:
            ids = [i for i in set(req.dispatch_rule_ids) if i in store.rules.items]
            if req.trunk_ids:
                ids = set(ids) & store.rules_for_trunks(req.trunk_ids)
        elif req.trunk_ids:
            ids = store.rules_for_trunks(req.trunk_ids)
        else:
            ids = store.rules.ids
        page = req.page if req.HasField("page") else None
        items = [store.rules.items[i] for i in self._page(ids, page)]
        return proto_sip.ListSIPDispatchRuleResponse(items=items)

    async def delete_rule(self, req: proto_sip.DeleteSIPDispatchRuleRequest) -> Message:
        if not req.sip_dispatch_rule_id:
            raise invalid_argument("dispatch rule ID is required")
        if req.sip_dispatch_rule_id not in self.store.rules.items:
            raise not_found(RULE_NOT_FOUND)
        deleted = self.store.delete_rule(req.sip_dispatch_rule_id)
        assert deleted is not None
        return deleted

    # -- shared ------------------------------------------------------------------------------
    @staticmethod
    def _update_action(req: Any, object_id: str, missing_id: str) -> str:
        if not object_id:
            raise invalid_argument(missing_id)
        action = req.WhichOneof("action")
        if action is None:
            raise invalid_argument("missing or unsupported update action")
        return str(action)

    @staticmethod
    def _check_replace_id(info_id: str, object_id: str, what: str) -> None:
        if info_id and info_id != object_id:
            raise invalid_argument(
                f"{what} id in the info must be empty or match the id in the update"
            )

    def _fresh_trunk_id(self) -> str:
        while True:
            trunk_id = new_id(TRUNK_PREFIX)
            if (
                trunk_id not in self.store.inbound.items
                and trunk_id not in self.store.outbound.items
            ):
                return trunk_id

    def _fresh_rule_id(self) -> str:
        while True:
            rule_id = new_id(RULE_PREFIX)
            if rule_id not in self.store.rules.items:
                return rule_id


def _rule_from_legacy(req: proto_sip.CreateSIPDispatchRuleRequest) -> proto_sip.SIPDispatchRuleInfo:
    """``CreateSIPDispatchRuleRequest.DispatchRuleInfo()`` for the deprecated flat form."""
    info = proto_sip.SIPDispatchRuleInfo(
        trunk_ids=list(req.trunk_ids),
        hide_phone_number=req.hide_phone_number,
        inbound_numbers=list(req.inbound_numbers),
        name=req.name,
        metadata=req.metadata,
        attributes=dict(req.attributes),
        room_preset=req.room_preset,
    )
    if req.HasField("rule"):
        info.rule.CopyFrom(req.rule)
    if req.HasField("room_config"):
        info.room_config.CopyFrom(req.room_config)
    return info


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
