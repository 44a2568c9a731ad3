"""The engine's vocabulary: what the database records per kind, what has been observed
upstream, and the actions the planner returns (decisions/0011)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Placeholder for an ID that an earlier action of the same plan will produce (the rule's
# trunk when the trunk is still to be created): the action that uses it waits for it.
PENDING_ID = "(new trunk)"

# Operations. The first four are the only mutating upstream calls.
CREATE = "create"
UPDATE = "update"
DELETE = "delete"
ADOPT = "adopt"  # ours, from an earlier create whose reply was lost: record its ID
FORGET = "forget"  # the stored ID points at nothing upstream: clear the record
CLEAR_INTENT = "clear_intent"  # an unconfirmed create left nothing (more) to clean up
RECORD_HASH = "record_hash"  # upstream matches: remember that without a call
OBSERVE = "observe"  # a fact the planner needs and has not got: read, then plan again
CONFLICT = "conflict"  # a holder that is not ours blocks the write
FOREIGN = "foreign"  # the stored ID's object does not carry our marker
WAIT = "wait"  # another clinic of ours still holds a key: try again shortly
REJECTED = "rejected"  # upstream refused the write and nothing holds the keys
RELEASE_NUMBERS = "release_numbers"  # offboarded and clean: free the numbers

MUTATING = frozenset({CREATE, UPDATE, DELETE})
# Actions that end a run with an error (nothing after them is planned).
BLOCKING = frozenset({CONFLICT, FOREIGN, WAIT, REJECTED})

# Roles of a delete (they only change the event the executor writes).
STORED = "stored"
DUPLICATE = "duplicate"
UNCONFIRMED = "unconfirmed"

# What an Observe reads.
BY_ID = "by_id"
HOLDERS = "holders"


# A kind's instances are told apart by a key: "" for a kind with one object per clinic
# (the trunk, the trunk-wide dispatch rule), a receptionist's id for its line's rule.
Slot = tuple[str, str]  # (kind name, instance key)


@dataclass(frozen=True)
class Record:
    """The database's record of one instance of a kind for a clinic."""

    object_id: str = ""
    applied_hash: str = ""
    intent: bool = False
    intent_keys: tuple[str, ...] = ()  # the keys an unconfirmed create asked for
    holds: tuple[str, ...] = ()  # what the applied object claims (a line rule's numbers)


@dataclass(frozen=True)
class Action:
    op: str
    kind: str
    object_id: str = ""
    key: str = ""  # which instance of the kind (see Slot)
    spec: Any = None  # what create/update write
    remote: Any = None  # the upstream object an adopt/update starts from, if observed
    reason: str = ""
    changes: tuple[str, ...] = ()  # the fields that differ, for updates
    role: str = STORED  # deletes: the stored object, a duplicate, an unconfirmed create
    read: str = ""  # observes: BY_ID or HOLDERS
    keys: tuple[str, ...] = ()  # observes of holders: the keys to list by

    @property
    def upstream(self) -> bool:
        return self.op in MUTATING


@dataclass
class Observed:
    """What has been read upstream in this run. A missing entry is not known; `by_id`
    maps (kind, ID) to the object (None: read, and absent upstream)."""

    by_id: dict[tuple[str, str], Any] = field(default_factory=dict)
    holders: dict[tuple[str, tuple[str, ...]], tuple[Any, ...]] = field(default_factory=dict)
    rejected: dict[Slot, Any] = field(default_factory=dict)  # the refused write's error
    calls: list[str] = field(default_factory=list)  # the list calls made, for the dry run

    def forget_kind(self, kind: str) -> None:
        """After a write of `kind`: its listings may be stale."""
        for key in [k for k in self.holders if k[0] == kind]:
            del self.holders[key]
