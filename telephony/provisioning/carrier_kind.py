"""The clinic's carrier trunk as a kind of the engine (decisions/0011, 0080).

One kind, ``carrier``: a Twilio Elastic SIP trunk or a Telnyx FQDN connection, whose
create and update also converge its origination (the clinic's LiveKit SIP URI over TCP) and
the numbers attached to it (carrier_gateway.py). It comes last when a clinic goes live
(after LiveKit's trunk and rule, so no call is routed before LiveKit can take it) and goes
first when it leaves (the planner removes kinds in reverse order). It is wanted while the
clinic has numbers and a connected carrier account; without one the clinic configures its
carrier by hand and the kind does nothing.

Its key is its name, the marker ``sb:<deployment>:<clinic>`` (telephony/carriers/markers.py):
an unconfirmed create is found again by listing the account's trunks by that name, and an
object whose name is not ours for this clinic is never adopted, changed or deleted.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from telephony.carriers import markers
from telephony.livekit_gateway import LiveKitPermanentError, PendingCall
from telephony.models import CarrierAccount, Provisioning
from telephony.provisioning.actions import Record
from telephony.provisioning.carrier_gateway import (
    CarrierGateway,
    CarrierSpec,
    RemoteCarrierTrunk,
    origination_for,
)
from telephony.provisioning.desired import DesiredState

ACTIVE_ACCOUNT = (CarrierAccount.State.CONNECTED, CarrierAccount.State.CREDENTIALS_REJECTED)


def carrier_wanted(desired: DesiredState) -> bool:
    account = desired.carrier_account
    return desired.trunk_wanted and account is not None and account.state in ACTIVE_ACCOUNT


class CarrierTrunkKind:
    name = "carrier"
    depends_on: tuple[str, ...] = ("trunk",)
    wait_for_other_clinics = False
    concurrent = False  # no concurrent form: a batch hands the clinic over (decisions/0046)
    upstream = "the carrier"

    def client(self, clinic_id: Any, livekit: Any) -> CarrierGateway:
        from telephony.provisioning.carrier_gateway import gateway_for_clinic

        gw = gateway_for_clinic(clinic_id)
        if gw is None:  # disconnected meanwhile: a stored trunk can no longer be reached
            raise LiveKitPermanentError(
                "The carrier account was disconnected before Switchboard could remove what "
                "it had set up there; remove the trunk in the carrier's console.",
                code="carrier_disconnected",
            )
        return gw

    def instances(self, desired: DesiredState) -> tuple[str, ...]:
        return ("",) if carrier_wanted(desired) else ()  # one per clinic (decision 0085)

    def spec(self, desired: DesiredState, ids: Mapping[str, str], key: str = "") -> CarrierSpec:
        account = desired.carrier_account
        assert account is not None
        origination = origination_for(account.provider, desired.sip_uri)
        fallback = origination_for(account.provider, desired.sip_fallback_uri)
        return CarrierSpec(
            name=markers.marker(desired.clinic.pk),
            origination=origination,
            numbers=tuple(sorted(desired.numbers)),
            fallback="" if fallback == origination else fallback,
        )

    def keys(self, spec_or_remote: Any) -> tuple[str, ...]:
        return (spec_or_remote.name,)

    def footprint(self, spec: Any) -> frozenset[Any]:
        return frozenset(self.keys(spec))

    def holds(self, spec: Any) -> tuple[str, ...]:
        """Where the trunk sends calls (a spec, or a remote trunk as found): recorded with
        the applied hash, for a move's carrier step (decision 0163)."""
        if isinstance(spec, RemoteCarrierTrunk):
            spec = spec.as_spec()
        origination = getattr(spec, "origination", "")
        return (origination,) if origination else ()

    def key_of(self, remote: Any) -> str:
        return ""

    def intent_keys(
        self, desired: DesiredState, record: Record, ids: Mapping[str, str]
    ) -> tuple[str, ...]:
        return (markers.marker(desired.clinic.pk),)

    def records(self, prov: Provisioning, lines: Mapping[str, Any]) -> dict[str, Record]:
        return {"": self.record(prov)}

    def record(self, prov: Provisioning) -> Record:
        return Record(
            object_id=prov.carrier_trunk_id,
            applied_hash=prov.carrier_applied_hash,
            intent=prov.carrier_intent is not None,
            intent_keys=(),
        )

    def stored(
        self, object_id: str, applied_hash: str, key: str = "", holds: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        return {
            "carrier_trunk_id": object_id,
            "carrier_applied_hash": applied_hash,
            "carrier_applied_origination": holds[0] if object_id and holds else "",
        }

    def intent(self, spec: Any, now: Any, key: str = "") -> dict[str, Any]:
        return {"carrier_intent": uuid.uuid4(), "carrier_intent_at": now}

    def no_intent(self, key: str = "") -> dict[str, Any]:
        return {"carrier_intent": None, "carrier_intent_at": None}

    def object_id(self, remote: Any) -> str:
        return str(remote.trunk_id)

    def list_by_id(self, gw: Any, object_id: str) -> list[RemoteCarrierTrunk]:
        return list(gw.list_carrier_trunks(trunk_id=object_id))

    def list_holders(self, gw: Any, keys: tuple[str, ...]) -> list[RemoteCarrierTrunk]:
        return list(gw.list_carrier_trunks(names=keys))

    def create(self, gw: Any, spec: Any) -> RemoteCarrierTrunk:
        clinic_id = markers.owner_of(spec.name)
        assert clinic_id is not None
        result: RemoteCarrierTrunk = gw.create_carrier_trunk(spec, clinic_id)
        return result

    def start_create(self, gw: Any, spec: Any, **kw: Any) -> PendingCall[Any]:
        raise NotImplementedError("carrier trunks are created one clinic at a time")

    def update(self, gw: Any, object_id: str, spec: Any) -> RemoteCarrierTrunk:
        result: RemoteCarrierTrunk = gw.update_carrier_trunk(object_id, spec)
        return result

    def delete(self, gw: Any, object_id: str) -> None:
        gw.delete_carrier_trunk(object_id)

    def conflict_sentence(self, spec: Any, holders: list[Any]) -> str:
        return (
            "The carrier account already has a trunk with this clinic's name that Switchboard "
            "does not manage. Remove it in the carrier's console, then press Retry."
        )

    def wait_sentence(self) -> str:
        return "The carrier trunk is being changed by another run; retrying shortly."

    def describe(self, spec: Any) -> str:
        return f"calls to {self._where(spec)}, numbers {', '.join(spec.numbers)}"

    @staticmethod
    def _where(spec: Any) -> str:
        fallback = getattr(spec, "fallback", "")
        return f"{spec.origination} (then {fallback})" if fallback else spec.origination

    def created_detail(self, remote: Any, spec: Any) -> str:
        return f"{remote.trunk_id} ({remote.target}) with {', '.join(spec.numbers)}"

    def updated_detail(self, object_id: str, spec: Any) -> str:
        return f"numbers {', '.join(spec.numbers)}, calls to {self._where(spec)}"


def after_convergence(desired: DesiredState, prov: Provisioning) -> None:
    """A disconnect's last step: once nothing of ours is recorded at the carrier, the
    credentials go (no query unless a disconnect is under way)."""
    account = desired.carrier_account
    if account is None or account.state != CarrierAccount.State.DISCONNECTING:
        return
    if not prov.carrier_trunk_id and prov.carrier_intent is None:
        from telephony.carrier_services import forget_disconnected

        forget_disconnected(desired.clinic.pk)
