"""Read-only queries for the web pages: what a user may see, and a clinic at a glance.

Every query here names the clinic (``for_clinic`` or a membership filter), so a page can
never show another tenant's rows. The dashboard runs a fixed number of queries however
many numbers or events the clinic has.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from telephony.carrier_readiness import CarrierReadiness, carrier_readiness
from telephony.models import (
    PhoneNumber,
    Provisioning,
    ProvisioningEvent,
    Receptionist,
    TrunkSettings,
)
from telephony.projects import carrier_sip_uri
from tenants.models import Clinic, Invitation, Membership, User
from tenants.timezones import WHEN_SECONDS, local_text
from tenants.wording import event_dict, event_sentence, plain_problem

RECENT_EVENTS = 10

State = Provisioning.State

# What each provisioning state means, for the clinic admin (not for the operator).
STATE_SENTENCES: dict[str, str] = {
    State.NEW: "Not live yet. Finish the setup and press Go live.",
    State.PENDING: "Your latest changes are queued and will be applied in a moment.",
    State.PROVISIONING: "Setting up your phone line…",
    State.ACTIVE: "Live: calls to your numbers are answered by your receptionist.",
    State.RETRYING: "Our phone service could not be reached just now; trying again by itself.",
    State.FAILED: "Setting up your phone line did not work. See what to do below.",
    State.DEPROVISIONING: "Removing your phone line…",
    State.DEPROVISIONED: "Your phone line has been removed.",
}

# States in which reconcile is finished (or waiting for a person): the page stops polling.
SETTLED_STATES = frozenset({State.NEW, State.ACTIVE, State.FAILED, State.DEPROVISIONED})


def clinic_memberships_for_user(*, user: User) -> list[Membership]:
    """The user's memberships in clinics that still exist, clinics loaded, by name."""
    return list(
        Membership.objects.filter(user=user)
        .exclude(clinic__state=Clinic.State.OFFBOARDED)
        .select_related("clinic")
        .order_by("clinic__name")
    )


@dataclass(frozen=True)
class ClinicOverview:
    clinic: Clinic
    provisioning: Provisioning
    trunk_settings: TrunkSettings
    agent_config: Receptionist  # the first receptionist
    numbers: list[PhoneNumber]
    events: list[ProvisioningEvent]

    @property
    def state_sentence(self) -> str:
        return state_sentence(self.provisioning, self.carrier)

    @cached_property
    def carrier(self) -> CarrierReadiness:
        """Whether the clinic's carrier sends calls here yet (issue 14)."""
        return carrier_readiness(
            clinic=self.clinic, provisioning=self.provisioning, trunk_settings=self.trunk_settings
        )

    @property
    def problem(self) -> str:
        return plain_problem(self.provisioning)

    @property
    def event_rows(self) -> list[tuple[ProvisioningEvent, str]]:
        return [(e, event_sentence(e.action, e.outcome, e.detail)) for e in self.events]

    @property
    def settled(self) -> bool:
        return self.provisioning.state in SETTLED_STATES

    @cached_property
    def sip_uri(self) -> str:
        return carrier_sip_uri(self.clinic)

    @property
    def sip_endpoint(self) -> SipEndpoint:
        return sip_endpoint(self.sip_uri)


@dataclass(frozen=True)
class SipEndpoint:
    """The parts of the SIP URI that carrier portals ask for separately."""

    host: str
    port: int | None  # None: the URI names none, so carriers use SIP's default (5060)
    transport: str  # "" unless the URI says (;transport=tcp|tls|udp)

    @property
    def port_or_default(self) -> int:
        return self.port or 5060


def sip_endpoint(uri: str) -> SipEndpoint:
    """Split `sip:host[:port][;params]` (host may be an [IPv6] literal)."""
    rest = uri.strip()
    for scheme in ("sips:", "sip:"):
        if rest.lower().startswith(scheme):
            rest = rest[len(scheme) :]
            break
    rest = rest.rsplit("@", 1)[-1]  # a user part is not for the carrier
    hostport, *params = rest.split(";")
    transport = next(
        (p.split("=", 1)[1].lower() for p in params if p.lower().startswith("transport=")), ""
    )
    if hostport.startswith("[") and "]" in hostport:
        host, _, tail = hostport[1:].partition("]")
        port_text = tail.removeprefix(":")
    else:
        host, _, port_text = hostport.partition(":")
    port = int(port_text) if port_text.isdigit() else None
    return SipEndpoint(host=host, port=port, transport=transport)


def clinic_overview(*, clinic: Clinic, events: int = RECENT_EVENTS) -> ClinicOverview:
    """Everything the dashboard and the review page show, in a constant number of queries."""
    return ClinicOverview(
        clinic=clinic,
        provisioning=Provisioning.objects.for_clinic(clinic).get(),
        trunk_settings=TrunkSettings.objects.for_clinic(clinic).get(),
        agent_config=Receptionist.objects.first_of(clinic),
        numbers=list(PhoneNumber.objects.for_clinic(clinic).order_by("e164")),
        events=list(ProvisioningEvent.objects.for_clinic(clinic).order_by("-at")[:events]),
    )


def state_sentence(provisioning: Provisioning, carrier: CarrierReadiness | None = None) -> str:
    """The state in a sentence; a live line whose carrier is not proven yet says so
    ("never live before calls can arrive")."""
    live = provisioning.state == State.ACTIVE and provisioning.converged
    if live and carrier is not None and not carrier.answering:
        if carrier.ready:
            return "Ready: your receptionist answers as soon as your carrier sends the first call."
        return f"Ready on our side. {carrier.sentence}"
    sentence = STATE_SENTENCES.get(provisioning.state, provisioning.get_state_display())
    if provisioning.state == State.RETRYING and provisioning.attempts:
        sentence = f"{sentence[:-1]} (attempt {provisioning.attempts})."
    return sentence


@dataclass(frozen=True)
class ProvisioningStep:
    key: str
    title: str
    status: str  # done, working, retrying, failed, waiting

    @property
    def status_label(self) -> str:
        return PROVISIONING_STEP_LABELS[self.status]

    def as_dict(self) -> dict[str, str]:
        return {
            "key": self.key,
            "title": self.title,
            "status": self.status,
            "status_label": self.status_label,
        }


PROVISIONING_STEP_LABELS = {
    "carrier_waiting": "Waiting for your carrier",
    "done": "Done",
    "working": "In progress",
    "retrying": "Retrying",
    "failed": "Failed",
    "waiting": "Waiting",
}
_CURRENT_STEP_STATUS = {
    State.PENDING: "working",
    State.PROVISIONING: "working",
    State.ACTIVE: "working",  # active but a newer generation not yet picked up
    State.RETRYING: "retrying",
    State.FAILED: "failed",
}


def provisioning_steps(
    provisioning: Provisioning, carrier: CarrierReadiness | None = None
) -> list[ProvisioningStep]:
    """Going live in four steps the clinic admin can follow: numbers, routing, the carrier,
    answering. "Answering calls" is done only when the carrier side is set up by
    Switchboard or a real call arrived (issue 14); until the carrier is connected or
    confirmed, its step says "Waiting for your carrier".

    Derived from what is stored; empty while the clinic is being removed, when the steps no
    longer apply.
    """
    prov = provisioning
    if prov.state in (State.DEPROVISIONING, State.DEPROVISIONED):
        return []
    active = prov.state == State.ACTIVE and prov.converged
    done = {
        "trunk": bool(prov.trunk_id),
        "rule": bool(prov.dispatch_rule_id),
        "carrier": active and carrier is not None and carrier.ready,
        "live": active and (carrier is None or carrier.answering),
    }
    titles = {
        "trunk": "Connecting your numbers",
        "rule": "Sending calls to your receptionist",
        "carrier": "Your carrier sending calls here",
        "live": "Answering calls",
    }
    keys = (
        ("trunk", "rule", "carrier", "live") if carrier is not None else ("trunk", "rule", "live")
    )
    current = _CURRENT_STEP_STATUS.get(prov.state, "waiting")
    steps, seen_current = [], False
    for key in keys:
        if done[key] and not seen_current:
            status = "done"
        elif not seen_current:
            status, seen_current = current, True
            if active:  # LiveKit's side is done: the carrier (or the first call) is missing
                status = "carrier_waiting" if key == "carrier" else "waiting"
        else:
            status = "waiting"
        steps.append(ProvisioningStep(key, titles[key], status))
    return steps


def provisioning_status(*, clinic: Clinic) -> dict[str, Any]:
    """The JSON the dashboard polls: everything on the page that changes while the phone
    line is set up (the header, the status card, the checklist, the activity) or moves to
    another LiveKit project (the move card), so they update together. Times are also given
    as text in the current (the clinic's) zone. Never includes secrets (no carrier auth at
    all), nor a project's name, URL or key."""
    from telephony.move_status import move_status_json
    from telephony.selectors import go_live_checklist

    overview = clinic_overview(clinic=clinic)
    prov = overview.provisioning
    checklist = go_live_checklist(
        clinic=clinic,
        numbers=overview.numbers,
        trunk_settings=overview.trunk_settings,
        agent_config=overview.agent_config,
        provisioning=prov,
        carrier=overview.carrier,
    )
    retrying = prov.state == State.RETRYING and prov.next_attempt_at
    return {
        "clinic": clinic.slug,
        "clinic_state": clinic.state,
        "clinic_state_label": clinic.get_state_display(),
        "state": prov.state,
        "state_label": prov.get_state_display(),
        "state_sentence": overview.state_sentence,
        "settled": prov.state in SETTLED_STATES,
        "converged": prov.converged,
        "trunk_id": prov.trunk_id,
        "dispatch_rule_id": prov.dispatch_rule_id,
        "last_error": prov.last_error,
        "problem": plain_problem(prov),
        "attempts": prov.attempts,
        "next_attempt_at": prov.next_attempt_at.isoformat() if prov.next_attempt_at else None,
        "next_attempt_text": local_text(prov.next_attempt_at, WHEN_SECONDS) if retrying else "",
        "generation": prov.generation,
        "observed_generation": prov.observed_generation,
        "steps": [step.as_dict() for step in provisioning_steps(prov, overview.carrier)],
        "carrier": overview.carrier.as_dict(),
        "checklist": [item.as_dict() for item in checklist],
        "events": [event_dict(e, local_text(e.at, WHEN_SECONDS)) for e in overview.events],
        # A move between LiveKit projects (decision 0131): the page polls while it is open.
        "move": move_status_json(clinic),
    }


# --- guided setup -----------------------------------------------------------------------

SETUP_STEPS: list[tuple[str, str]] = [
    ("details", "Clinic details"),
    ("numbers", "Phone numbers"),
    ("carrier", "Carrier settings"),
    ("agent", "Receptionist"),
    ("review", "Review and go live"),
]
STEP_SLUGS = [slug for slug, _ in SETUP_STEPS]


@dataclass(frozen=True)
class SetupStep:
    slug: str
    title: str
    status: str  # "done", "todo" or "optional"

    @property
    def status_label(self) -> str:
        return {"done": "Done", "todo": "To do", "optional": "Optional"}[self.status]


def setup_progress(*, overview: ClinicOverview) -> list[SetupStep]:
    """Each setup step and whether it is done, from what is stored (nothing extra is kept)."""
    ts = overview.trunk_settings
    live = overview.clinic.state == Clinic.State.LIVE
    status = {
        "details": "done" if overview.clinic.name else "todo",
        "numbers": "done" if overview.numbers else "todo",
        "carrier": "done" if (ts.allowed_addresses or ts.auth_username) else "optional",
        "agent": "done" if overview.agent_config.greeting else "todo",
        "review": "done" if live else "todo",
    }
    return [SetupStep(slug, title, status[slug]) for slug, title in SETUP_STEPS]


_ROLE_ORDER: dict[str, int] = {
    Membership.Role.OWNER: 0,
    Membership.Role.ADMIN: 1,
    Membership.Role.VIEWER: 2,
}


def team_members(*, clinic: Clinic) -> list[Membership]:
    """The clinic's members with their users: owners first, then admins, then viewers."""
    members = Membership.objects.filter(clinic=clinic).select_related("user")
    return sorted(members, key=lambda m: (_ROLE_ORDER.get(m.role, 9), m.user.email))


def team_invitations(*, clinic: Clinic) -> list[Invitation]:
    """Invitations not yet accepted or revoked (expired ones too, so they can be revoked)."""
    return list(
        Invitation.objects.for_clinic(clinic).open().select_related("invited_by").order_by("email")
    )
