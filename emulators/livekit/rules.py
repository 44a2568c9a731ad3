"""The ``livekit.SIP`` dispatch rule handlers (livekit-sip.md §4; see service.py)."""

from __future__ import annotations

from google.protobuf.message import Message
from livekit.protocol import sip as proto_sip

from . import validation as v
from .conflicts import find_rule_conflict, rule_conflict_message, rule_keys
from .errors import TwirpError, invalid_argument, not_found
from .handlers import HandlerBase, Updatable, clone
from .ids import RULE_PREFIX, new_id

RULE_NOT_FOUND = "requested sip dispatch rule does not exist"
RULE = Updatable(
    "rule",
    "sip_dispatch_rule_id",
    v.check_rule_info,
    v.check_rule_update,
    v.apply_rule_update,
    RULE_NOT_FOUND,
)


class RuleHandlers(HandlerBase):
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
        info, stored = self._updated(req, self.store.rules, RULE)
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
        items = self._listed(
            req, store.rules, req.dispatch_rule_ids, req.trunk_ids, store.rules_for_trunks
        )
        return proto_sip.ListSIPDispatchRuleResponse(items=items)

    async def delete_rule(self, req: proto_sip.DeleteSIPDispatchRuleRequest) -> Message:
        if not req.sip_dispatch_rule_id:
            raise invalid_argument("dispatch rule ID is required")
        if req.sip_dispatch_rule_id not in self.store.rules.items:
            raise not_found(RULE_NOT_FOUND)
        deleted = self.store.delete_rule(req.sip_dispatch_rule_id)
        assert deleted is not None
        return deleted

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
