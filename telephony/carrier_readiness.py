"""Whether calls can reach a clinic yet: "never live before calls can arrive" (issue 14).

LiveKit being ready is not enough: the clinic's carrier must send the calls. The carrier is
ready when Switchboard has set it up through the clinic's connected account (the engine's
carrier trunk is recorded and the clinic converged), when the admin confirmed by hand that
they configured it ("I've configured my carrier"), or when a real call has arrived (a
LiveKit webhook for one of the clinic's rooms). "Answering calls" is stricter: only the
automatic set-up or a real call proves it; a confirmation by hand waits for the first call.
Sentences are for the clinic admin (no engine words).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from telephony.models import Call, CarrierAccount, Provisioning, TrunkSettings
from tenants.models import Clinic

State = Provisioning.State
READY = ("connected", "confirmed", "first_call")


@dataclass(frozen=True)
class CarrierReadiness:
    status: str  # connected | confirmed | first_call | setting_up | failed | waiting
    sentence: str
    provider: str = ""  # "Twilio", "Telnyx" or "" (by hand)
    trunk_id: str = ""

    @property
    def ready(self) -> bool:
        """Calls from the carrier can arrive (set up, confirmed, or one did)."""
        return self.status in READY

    @property
    def answering(self) -> bool:
        """Proven: set up by Switchboard, or a real call arrived."""
        return self.status in ("connected", "first_call")

    @property
    def label(self) -> str:
        return {
            "connected": "Connected",
            "confirmed": "Set up by you",
            "first_call": "Calls arriving",
            "setting_up": "In progress",
            "failed": "Needs attention",
            "waiting": "Waiting for your carrier",
        }[self.status]

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "label": self.label,
            "sentence": self.sentence,
            "ready": self.ready,
            "answering": self.answering,
            "provider": self.provider,
            "trunk_id": self.trunk_id,
        }


WAITING = (
    "Waiting for your carrier: calls reach your receptionist only once your carrier sends "
    "them here. Connect your Twilio or Telnyx account on the carrier step, or tell us there "
    "once you have set it up yourself."
)


def carrier_readiness(
    *, clinic: Clinic, provisioning: Provisioning, trunk_settings: TrunkSettings | None
) -> CarrierReadiness:
    """From stored facts: two small queries (the carrier account, one real call)."""
    prov = provisioning
    account = CarrierAccount.objects.filter(clinic=clinic).first()
    if account is not None:
        name = account.get_provider_display()
        automatic = _automatic(account, prov, name)
        if automatic.status == "connected":
            return automatic
    if Call.objects.for_clinic(clinic).filter(is_test=False).exists():
        return CarrierReadiness(
            "first_call",
            "Calls are arriving: a caller has reached your receptionist.",
            provider=account.get_provider_display() if account else "",
            trunk_id=prov.carrier_trunk_id,
        )
    if account is not None:
        return automatic
    if trunk_settings is not None and trunk_settings.carrier_confirmed_at:
        return CarrierReadiness(
            "confirmed",
            "You told us your carrier sends your numbers' calls here. The first real call "
            "confirms it.",
        )
    return CarrierReadiness("waiting", WAITING)


def _automatic(account: CarrierAccount, prov: Provisioning, name: str) -> CarrierReadiness:
    trunk = prov.carrier_trunk_id
    if account.state == CarrierAccount.State.CREDENTIALS_REJECTED:
        return CarrierReadiness(
            "failed",
            f"{name} no longer accepts the saved credentials, so Switchboard cannot set up "
            "your calls there. Paste new ones on the carrier step.",
            provider=name,
            trunk_id=trunk,
        )
    if account.state == CarrierAccount.State.DISCONNECTING:
        return CarrierReadiness(
            "setting_up",
            f"Removing what Switchboard set up in your {name} account.",
            provider=name,
            trunk_id=trunk,
        )
    if trunk and prov.state == State.ACTIVE and prov.converged:
        return CarrierReadiness(
            "connected",
            f"Your {name} account sends your numbers' calls to your receptionist.",
            provider=name,
            trunk_id=trunk,
        )
    if prov.state == State.FAILED and prov.last_error_code.startswith("carrier_"):
        return CarrierReadiness(
            "failed",
            f"Setting up your {name} account did not work; see what to do above.",
            provider=name,
            trunk_id=trunk,
        )
    if prov.state in (State.NEW, State.DEPROVISIONED):
        return CarrierReadiness(
            "waiting",
            f"Connected to {name}: Switchboard sets it up when you go live.",
            provider=name,
            trunk_id=trunk,
        )
    return CarrierReadiness(
        "setting_up", f"Setting up your {name} account…", provider=name, trunk_id=trunk
    )
