"""The thin LiveKit SIP client: the only package that imports livekit.api.

Each method maps onto one `livekit.SIP` Twirp call, is bounded by asyncio.wait_for
(livekit-api applies no timeout of its own, see docs/livekit-sip.md §2.4), runs with
failover off (the SDK's replays would be creates we never hear of), and classifies every
failure as transient (retry with backoff) or permanent (a human must act). It knows nothing
about Django models: it takes and returns small frozen dataclasses.

The calls run on one asyncio loop per process, in a daemon thread, over one pooled aiohttp
session (`loop.py`); callers block on the result, or start calls and collect them later
(`PendingCall`, for batches). That makes the facade cheap per call and safe to use from
many threads at once, and a forked child builds its own loop.

Modules: errors (the error classes and classification), specs (the dataclasses and their
protobuf conversions), loop (the per-process loop), gateway (LiveKitGateway), webhooks.
"""

from telephony.livekit_gateway.errors import (
    CONFLICT_RULE,
    CONFLICT_TRUNK,
    LOCAL_RATE_LIMIT,
    CallInfo,
    LiveKitAuthError,
    LiveKitConflictError,
    LiveKitError,
    LiveKitNotFoundError,
    LiveKitNotSent,
    LiveKitPermanentError,
    LiveKitRejectedError,
    LiveKitTransientError,
    _retry_after,
    classify,
)
from telephony.livekit_gateway.gateway import LiveKitGateway, PendingCall, get_gateway
from telephony.livekit_gateway.loop import (
    LOOP_GUARD_SECONDS,
    POOL_SIZE,
    _gateway_loop,
    close_gateway_loop,
)
from telephony.livekit_gateway.specs import (
    AgentDispatch,
    RemoteRule,
    RemoteTrunk,
    RuleSpec,
    TrunkSpec,
    _remote_rule,
    _remote_trunk,
    _rule_info,
    _trunk_info,
    parse_metadata,
)
from telephony.livekit_gateway.webhooks import (
    WebhookEvent,
    WebhookParticipant,
    WebhookRejected,
    WebhookRoom,
    verify_webhook,
)

__all__ = [
    "CONFLICT_RULE",
    "CONFLICT_TRUNK",
    "LOCAL_RATE_LIMIT",
    "LOOP_GUARD_SECONDS",
    "POOL_SIZE",
    "AgentDispatch",
    "CallInfo",
    "LiveKitAuthError",
    "LiveKitConflictError",
    "LiveKitError",
    "LiveKitGateway",
    "LiveKitNotFoundError",
    "LiveKitNotSent",
    "LiveKitPermanentError",
    "LiveKitRejectedError",
    "LiveKitTransientError",
    "PendingCall",
    "RemoteRule",
    "RemoteTrunk",
    "RuleSpec",
    "TrunkSpec",
    "WebhookEvent",
    "WebhookParticipant",
    "WebhookRejected",
    "WebhookRoom",
    "_gateway_loop",
    "_remote_rule",
    "_remote_trunk",
    "_retry_after",
    "_rule_info",
    "_trunk_info",
    "classify",
    "close_gateway_loop",
    "get_gateway",
    "parse_metadata",
    "verify_webhook",
]
