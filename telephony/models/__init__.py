"""The telephony app's models, one module per concern; import them from here.

- setup: phone numbers, carrier (trunk) settings, receptionists.
- provisioning: provisioning state, its events, the drift scan's findings, orphans.
- projects: the LiveKit projects clinics are placed in.
- moves: a clinic moving from one LiveKit project to another.
- calls: agent service tokens, calls, outcomes, the call log policy, test calls.
- carriers: the clinic's connected carrier account (Twilio, Telnyx).
- purchases: numbers bought in that account through Switchboard.
- releases: bought numbers given back to the carrier.
"""

from telephony.models.calls import AgentToken, Call, CallLogPolicy, CallOutcome, TestCall
from telephony.models.carriers import CarrierAccount
from telephony.models.moves import ProjectMove
from telephony.models.projects import DEFAULT_PROJECT, LiveKitProject, ProjectConfig
from telephony.models.provisioning import (
    LineRule,
    OrphanObject,
    Provisioning,
    ProvisioningEvent,
    UpstreamStatus,
)
from telephony.models.purchases import NumberPurchase
from telephony.models.releases import NumberRelease
from telephony.models.setup import (
    DEFAULT_GREETING,
    DEFAULT_INSTRUCTIONS,
    FIRST_RECEPTIONIST_NAME,
    FIRST_RECEPTIONIST_SLUG,
    ClinicScopedManager,
    ClinicScopedQuerySet,
    PhoneNumber,
    Receptionist,
    TrunkSettings,
)

__all__ = [
    "DEFAULT_GREETING",
    "DEFAULT_INSTRUCTIONS",
    "DEFAULT_PROJECT",
    "FIRST_RECEPTIONIST_NAME",
    "FIRST_RECEPTIONIST_SLUG",
    "AgentToken",
    "Call",
    "CallLogPolicy",
    "CallOutcome",
    "CarrierAccount",
    "ClinicScopedManager",
    "ClinicScopedQuerySet",
    "LineRule",
    "LiveKitProject",
    "NumberPurchase",
    "NumberRelease",
    "OrphanObject",
    "PhoneNumber",
    "ProjectConfig",
    "ProjectMove",
    "Provisioning",
    "ProvisioningEvent",
    "Receptionist",
    "TestCall",
    "TrunkSettings",
    "UpstreamStatus",
]
