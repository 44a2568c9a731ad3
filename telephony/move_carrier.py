"""A move's carrier step when the clinic's carrier account is connected (decision 0096):
the engine repoints the carrier once the move has passed its test call
(projects.carrier_sip_uri), and the move confirms itself when that is applied."""

from __future__ import annotations

from telephony.models import CarrierAccount, ProjectMove, Provisioning
from tenants.models import Clinic


def carrier_automatic(clinic: Clinic) -> bool:
    """The clinic's carrier is set up by Switchboard (a connected account): the engine
    repoints it once the move has passed its test call (projects.carrier_sip_uri)."""
    return CarrierAccount.objects.filter(
        clinic=clinic, state=CarrierAccount.State.CONNECTED
    ).exists()


def carrier_repointed(move: ProjectMove) -> bool:
    """The engine has applied the carrier spec that sends calls to the target."""
    from telephony.provisioning.carrier_kind import CarrierTrunkKind
    from telephony.provisioning.desired import load_desired, spec_hash

    prov = Provisioning.objects.get(clinic=move.clinic)
    if prov.state != Provisioning.State.ACTIVE or not prov.converged or not prov.carrier_trunk_id:
        return False
    desired = load_desired(move.clinic_id)
    if desired.sip_uri != move.target.effective_sip_uri:
        return False
    return spec_hash(CarrierTrunkKind().spec(desired, {})) == prov.carrier_applied_hash
