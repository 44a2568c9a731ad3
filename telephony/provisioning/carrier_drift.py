"""The drift scan's carrier part: each settled clinic's carrier trunk compared with what the
engine last wrote there (decisions/0080).

Carrier accounts are the clinics' own, so there is no page of "every trunk" to list: each
clinic with a carrier trunk is read through its account (its trunks, the trunk's
originations, the account's numbers: a few requests, paced by the account's rate limiter).
A trunk that is gone or differs from the applied spec's hash (an origination URL removed, a
number detached or moved at the carrier) re-provisions the clinic with verification, like
LiveKit's drift. Clinics with a create in flight or a held lease are skipped; an account
whose credentials were rejected is skipped without a request.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models import Q

from telephony.livekit_gateway import LiveKitError
from telephony.models import CarrierAccount, Provisioning, ProvisioningEvent
from telephony.provisioning.carrier_gateway import CarrierGateway
from telephony.provisioning.desired import spec_hash
from telephony.provisioning.lease import db_now

logger = logging.getLogger(__name__)


def scan_carriers() -> dict[str, Any]:
    now = db_now()
    rows = (
        Provisioning.objects.filter(
            state=Provisioning.State.ACTIVE,
            carrier_intent__isnull=True,
            clinic__carrier_account__state=CarrierAccount.State.CONNECTED,
        )
        .exclude(carrier_trunk_id="")
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .select_related("clinic", "clinic__carrier_account")
    )
    checked, drifted, errors = 0, [], 0
    for prov in rows:
        if not prov.converged:
            continue
        checked += 1
        try:
            reason = _drift_of(prov)
        except LiveKitError as exc:
            errors += 1
            logger.info("carrier drift: %s not read (%s)", prov.clinic.slug, exc.sentence)
            continue
        if reason:
            drifted.append(f"{prov.clinic.slug}: {reason}")
            _repair(prov, reason)
    report = {"checked": checked, "drift_count": len(drifted), "drifted": drifted[:200]}
    report["errors"] = errors
    logger.info("carrier drift scan: %s", report)
    return report


def _drift_of(prov: Provisioning) -> str:
    gw = CarrierGateway(prov.clinic.carrier_account)
    found = gw.list_carrier_trunks(trunk_id=prov.carrier_trunk_id)
    if not found:
        return f"carrier trunk {prov.carrier_trunk_id} is missing"
    if spec_hash(found[0].as_spec()) != prov.carrier_applied_hash:
        return f"carrier trunk {prov.carrier_trunk_id} was changed at the carrier"
    return ""


def _repair(prov: Provisioning, reason: str) -> None:
    from telephony.services import request_provisioning

    with transaction.atomic():
        ProvisioningEvent.objects.create(
            clinic=prov.clinic, generation=prov.generation, action="drift_detected", detail=reason
        )
        request_provisioning(prov.clinic, reason=f"drift: {reason}", verify=True)
