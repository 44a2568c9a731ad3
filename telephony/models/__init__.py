"""The telephony app's models, one module per concern; import them from here.

- setup: phone numbers, carrier (trunk) settings, agent configuration.
- provisioning: provisioning state, its events, the drift scan's findings, orphans.
- calls: agent service tokens, calls, outcomes, the call log policy, test calls.
"""

from telephony.models.calls import AgentToken, Call, CallLogPolicy, CallOutcome, TestCall
from telephony.models.provisioning import (
    OrphanObject,
    Provisioning,
    ProvisioningEvent,
    UpstreamStatus,
)
from telephony.models.setup import (
    DEFAULT_GREETING,
    DEFAULT_INSTRUCTIONS,
    AgentConfig,
    ClinicScopedManager,
    ClinicScopedQuerySet,
    PhoneNumber,
    TrunkSettings,
)

__all__ = [
    "DEFAULT_GREETING",
    "DEFAULT_INSTRUCTIONS",
    "AgentConfig",
    "AgentToken",
    "Call",
    "CallLogPolicy",
    "CallOutcome",
    "ClinicScopedManager",
    "ClinicScopedQuerySet",
    "OrphanObject",
    "PhoneNumber",
    "Provisioning",
    "ProvisioningEvent",
    "TestCall",
    "TrunkSettings",
    "UpstreamStatus",
]
