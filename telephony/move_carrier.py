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
    """The carrier trunk sends calls to the target: what the engine last applied there (its
    recorded origination), not what the clinic's desired state says now, which may have
    changed since (decision 0163)."""
    from telephony.provisioning.carrier_gateway import origination_for

    prov = Provisioning.objects.get(clinic=move.clinic)
    if not prov.carrier_trunk_id:
        return False
    if not prov.carrier_applied_origination:  # applied before the origination was recorded
        return _repointed_by_hash(move, prov)
    account = CarrierAccount.objects.filter(clinic=move.clinic).first()
    if account is None:
        return False
    target = origination_for(account.provider, move.target.effective_sip_uri)
    return bool(target) and prov.carrier_applied_origination == target


def _repointed_by_hash(move: ProjectMove, prov: Provisioning) -> bool:
    """The earlier test, for a trunk applied before its origination was recorded: the clinic
    converged on a desired state that names the target, and that spec is the applied one."""
    from telephony.provisioning.carrier_kind import CarrierTrunkKind
    from telephony.provisioning.desired import load_desired, spec_hash

    if prov.state != Provisioning.State.ACTIVE or not prov.converged:
        return False
    desired = load_desired(move.clinic_id)
    if desired.sip_uri != move.target.effective_sip_uri:
        return False
    return spec_hash(CarrierTrunkKind().spec(desired, {})) == prov.carrier_applied_hash
