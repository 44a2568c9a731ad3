"""What LiveKit must hold for a clinic, computed from the database alone."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, is_dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist

from telephony.livekit_gateway import AgentDispatch, RuleSpec, TrunkSpec, parse_metadata
from telephony.models import (
    CarrierAccount,
    PhoneNumber,
    Provisioning,
    Receptionist,
    TrunkSettings,
)
from tenants.models import Clinic


def marker(clinic: Clinic, line: str = "") -> str:
    """The ownership marker in every object's metadata: deployment and clinic, and for a
    line's rule the line's key (the receptionist's id), so that a rule whose create reply
    was lost is adopted by its own line (decision 0085)."""
    data = {"clinic": str(clinic.pk), "switchboard": settings.SWITCHBOARD_DEPLOYMENT_ID}
    if line:
        data["line"] = line
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def line_of(metadata: str) -> str:
    """The line key in a marker ("" for the trunk and the trunk-wide rule)."""
    line = parse_metadata(metadata).get("line")
    return line if isinstance(line, str) else ""


def owner_of(metadata: str) -> str | None:
    """The clinic id an object belongs to, if it carries this deployment's marker."""
    data = parse_metadata(metadata)
    if data.get("switchboard") != settings.SWITCHBOARD_DEPLOYMENT_ID:
        return None
    clinic = data.get("clinic")
    return clinic if isinstance(clinic, str) else None


def is_ours(metadata: str) -> bool:
    """Carries a Switchboard marker of this deployment (any clinic)."""
    return owner_of(metadata) is not None


def object_name(clinic: Clinic) -> str:
    return f"switchboard {clinic.slug}"


def agent_metadata(clinic: Clinic, config: Receptionist) -> str:
    """The agent job's metadata: which clinic, which receptionist (id and line slug), which
    config version."""
    return json.dumps(
        {
            "clinic": str(clinic.pk),
            "config_version": config.version,
            "line": config.slug,
            "receptionist": config.pk,
        },
        sort_keys=True,
        separators=(",", ":"),
    )


def line_prefix(clinic: Clinic, config: Receptionist) -> str:
    """A line's room prefix: the clinic's, extended by the line's slug, so that the room
    name says which line was called ("<prefix>_<line>_<caller>_<random>")."""
    return f"{clinic.room_prefix}_{config.slug}"


def trunk_spec(clinic: Clinic, numbers: list[str], trunk: TrunkSettings | None) -> TrunkSpec:
    return TrunkSpec(
        name=object_name(clinic),
        metadata=marker(clinic),
        numbers=tuple(sorted(numbers)),
        allowed_addresses=tuple(sorted(trunk.allowed_addresses)) if trunk else (),
        auth_username=trunk.auth_username if trunk and trunk.has_auth else "",
        auth_password=trunk.auth_password if trunk and trunk.has_auth else "",
        krisp_enabled=trunk.krisp_enabled if trunk else False,
    )


def rule_spec(
    clinic: Clinic,
    trunk_id: str,
    config: Receptionist,
    *,
    line: str = "",
    numbers: tuple[str, ...] = (),
) -> RuleSpec:
    """A line's dispatch rule: trunk-wide for the first receptionist (`line` ""), else
    restricted to the called numbers assigned to it (decision 0065)."""
    name = object_name(clinic) if not line else f"{object_name(clinic)} {config.slug}"
    return RuleSpec(
        name=name,
        metadata=marker(clinic, line),
        trunk_ids=(trunk_id,),
        room_prefix=line_prefix(clinic, config),
        hide_phone_number=False,  # decision 0031: the caller number reaches the call log
        agents=(AgentDispatch(config.effective_agent_name, agent_metadata(clinic, config)),),
        attributes=(("switchboard.clinic", str(clinic.pk)),),
        numbers=tuple(sorted(numbers)) if line else (),
    )


def spec_hash(spec: object) -> str:
    """A keyed hash of any kind's spec dataclass (a trunk's holds its password, so never a
    bare digest)."""
    payload = json.dumps(_plain(spec), sort_keys=True, default=str).encode()
    return hmac.new(settings.SECRET_KEY.encode(), payload, hashlib.sha256).hexdigest()


def _plain(value: Any) -> Any:
    """What `dataclasses.asdict` gives for the JSON above, without its deep copies (a
    batch hashes two specs per clinic). The JSON, and so the hash, is the same. A field
    added later with ``metadata={"hash_if_set": True}`` counts only when it is set, so the
    objects applied before it existed keep their hash (no drift, no re-apply)."""
    if is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _plain(getattr(value, f.name))
            for f in fields(value)
            if getattr(value, f.name) or not f.metadata.get("hash_if_set")
        }
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True)
class DesiredState:
    generation: int
    clinic: Clinic
    numbers: tuple[str, ...]
    trunk_settings: TrunkSettings | None
    receptionists: tuple[Receptionist, ...]  # oldest first
    # The clinic's carrier account (None: the carrier is configured by hand) and the SIP URI
    # of its LiveKit project, where the carrier sends calls (carrier_kind.py).
    carrier_account: CarrierAccount | None = None
    sip_uri: str = ""
    sip_fallback_uri: str = ""  # the project's fallback SIP URI, if it has one (0113)
    # Which receptionist answers each number: (e164, receptionist id), by number.
    assigned: tuple[tuple[str, int], ...] = ()

    @property
    def agent_config(self) -> Receptionist | None:
        """The first receptionist: the one the trunk-wide dispatch rule dispatches."""
        return self.receptionists[0] if self.receptionists else None

    def lines(self) -> dict[str, tuple[Receptionist, tuple[str, ...]]]:
        """The numbered lines: every receptionist but the first that has numbers, by its key
        (its id as text), with its numbers. The first's numbers need no rule of their own:
        the trunk-wide rule answers every number no line names (decision 0065)."""
        numbers: dict[int, list[str]] = defaultdict(list)
        for e164, receptionist_id in self.assigned:
            numbers[receptionist_id].append(e164)
        return {
            str(r.pk): (r, tuple(sorted(numbers[r.pk])))
            for r in self.receptionists[1:]
            if numbers.get(r.pk)
        }

    def answered_by(self) -> dict[str, Receptionist]:
        """Which receptionist's rule answers each number (the first for unnamed ones)."""
        first = self.agent_config
        out = {n: first for n in self.numbers if first is not None}
        for receptionist, numbers in self.lines().values():
            out.update(dict.fromkeys(numbers, receptionist))
        return out

    @property
    def trunk_wanted(self) -> bool:
        live = self.clinic.state in (Clinic.State.LIVE, Clinic.State.SUSPENDED)
        return live and bool(self.numbers)

    @property
    def rule_wanted(self) -> bool:
        return (
            self.clinic.state == Clinic.State.LIVE
            and self.trunk_wanted
            and self.agent_config is not None
        )

    def trunk(self) -> TrunkSpec:
        return trunk_spec(self.clinic, list(self.numbers), self.trunk_settings)

    def rule(self, trunk_id: str, line: str = "") -> RuleSpec:
        """The trunk-wide rule (`line` ""), or a numbered line's rule."""
        if not line:
            assert self.agent_config is not None
            return rule_spec(self.clinic, trunk_id, self.agent_config)
        receptionist, numbers = self.lines()[line]
        return rule_spec(self.clinic, trunk_id, receptionist, line=line, numbers=numbers)


def load_desired(clinic_id: Any) -> DesiredState:
    """Read the generation first, then the data: data is never older than the generation."""
    generation = Provisioning.objects.values_list("generation", flat=True).get(clinic_id=clinic_id)
    # The clinic with its carrier settings and account (reverse one-to-ones) in one query.
    clinic = Clinic.objects.select_related(*_RELATED).get(pk=clinic_id)
    assigned = tuple(
        PhoneNumber.objects.for_clinic(clinic)
        .order_by("e164")
        .values_list("e164", "receptionist_id")
    )
    return DesiredState(
        generation=generation,
        clinic=clinic,
        numbers=tuple(e164 for e164, _ in assigned),
        trunk_settings=_related(clinic, "trunk_settings"),
        receptionists=tuple(Receptionist.objects.for_clinic(clinic).order_by("id")),
        **_carrier(clinic),
        assigned=assigned,
    )


def load_desired_many(clinic_ids: Iterable[Any]) -> dict[str, DesiredState]:
    """`load_desired` for many clinics in four queries, keyed by the clinic id as text.

    Same order as one clinic: the generations first, then the data. A clinic without a
    provisioning row is left out.
    """
    ids = list(clinic_ids)
    generations = dict(
        Provisioning.objects.filter(clinic_id__in=ids).values_list("clinic_id", "generation")
    )
    clinics = Clinic.objects.select_related(*_RELATED).filter(pk__in=list(generations))
    assigned: dict[Any, list[tuple[str, int]]] = defaultdict(list)
    rows = PhoneNumber.objects.filter(clinic_id__in=list(generations)).order_by("e164")
    for clinic_id, e164, receptionist_id in rows.values_list(
        "clinic_id", "e164", "receptionist_id"
    ):
        assigned[clinic_id].append((e164, receptionist_id))
    receptionists: dict[Any, list[Receptionist]] = defaultdict(list)
    for row in Receptionist.objects.filter(clinic_id__in=list(generations)).order_by("id"):
        receptionists[row.clinic_id].append(row)
    with_carrier = [c for c in clinics if _related(c, "carrier_account") is not None]
    sip_uris: dict[Any, tuple[str, str]] = {}
    if with_carrier:  # one more query, only when some clinic has a connected carrier
        from telephony.projects import carrier_destinations

        sip_uris = carrier_destinations(with_carrier)
    return {
        str(clinic.pk): DesiredState(
            generation=generations[clinic.pk],
            clinic=clinic,
            numbers=tuple(e164 for e164, _ in assigned[clinic.pk]),
            trunk_settings=_related(clinic, "trunk_settings"),
            receptionists=tuple(receptionists[clinic.pk]),
            **_carrier(clinic, sip_uris),
            assigned=tuple(assigned[clinic.pk]),
        )
        for clinic in clinics
    }


_RELATED = ("trunk_settings", "carrier_account", "livekit_project")


def _related(clinic: Clinic, name: str) -> Any:
    try:
        return getattr(clinic, name)
    except ObjectDoesNotExist:
        return None


def _carrier(
    clinic: Clinic, sip_uris: Mapping[Any, tuple[str, str]] | None = None
) -> dict[str, Any]:
    """The carrier account and where it sends calls: the clinic's project's SIP URI and
    fallback, or the source's while a move to another project has not passed its test call
    (decisions 0096, 0113)."""
    account = _related(clinic, "carrier_account")
    if account is None:
        return {}
    from telephony.projects import carrier_destinations

    if sip_uris is None:
        sip_uris = carrier_destinations([clinic])
    sip_uri, fallback = sip_uris[clinic.pk]
    return {"carrier_account": account, "sip_uri": sip_uri, "sip_fallback_uri": fallback}
