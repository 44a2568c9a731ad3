"""What the ``livekit.SIP`` handlers share: the store, the options, paging and update checks.

The handlers themselves are in trunks.py and rules.py; service.py routes RPCs to them.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from google.protobuf.message import Message
from livekit.protocol import models as proto_models

from .errors import invalid_argument, not_found
from .store import SortedTable, Store

M = TypeVar("M", bound=Message)
BeforeStore = Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class Updatable:
    """How an Update request's object is checked and built, for one type (trunk or rule)."""

    what: str  # "trunk", "rule": in the error messages
    id_field: str  # "sip_trunk_id", "sip_dispatch_rule_id"
    check_info: Callable[[Any], None]  # a whole object (the `replace` action)
    check_update: Callable[[Any], None]  # a field update (the `update` action)
    apply_update: Callable[[Any, Any], None]
    missing: str  # LiveKit's not-found message


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


class HandlerBase:
    """The state every handler reads, and the helpers they share."""

    def __init__(
        self, store: Store, options: ServiceOptions, before_store: BeforeStore | None = None
    ) -> None:
        self.store = store
        self.options = options
        self.before_store = before_store or _no_delay

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

    def _updated(self, req: Any, table: SortedTable[M], kind: Updatable) -> tuple[M, M]:
        """What an Update request makes of a stored object, replaced or field-updated and
        checked as LiveKit checks it, and the stored object (not found: LiveKit's error)."""
        object_id = getattr(req, kind.id_field)
        action = self._update_action(req, object_id, f"{kind.what} id must be set")
        if action == "replace":
            self._check_replace_id(getattr(req.replace, kind.id_field), object_id, kind.what)
            kind.check_info(req.replace)
        else:
            kind.check_update(req.update)
        stored = table.items.get(object_id)
        if stored is None:
            raise not_found(kind.missing)
        if action == "replace":
            info = clone(req.replace)
            setattr(info, kind.id_field, object_id)
        else:
            info = clone(stored)
            kind.apply_update(info, req.update)
        return info, stored

    def _listed(
        self,
        req: Any,
        table: SortedTable[M],
        object_ids: Iterable[str],
        keys: Iterable[str],
        holders: Callable[[Iterable[str]], set[str]],
    ) -> list[M]:
        """A List request's page: the objects asked for by ID (of those, the ones holding
        one of `keys` if any are given), else the holders of `keys`, else every object."""
        object_ids, keys = list(object_ids), list(keys)
        ids: Iterable[str]
        if object_ids:
            ids = [i for i in set(object_ids) if i in table.items]
            if keys:
                ids = set(ids) & holders(keys)
        elif keys:
            ids = holders(keys)
        else:
            ids = table.ids
        page = req.page if req.HasField("page") else None
        return [table.items[i] for i in self._page(ids, page)]
