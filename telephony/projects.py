"""LiveKit projects: the default one, placement of new clinics, pinning, registering.

Placement (docs/decisions/0070): among the projects that are active and accept new clinics,
those of the region the signup asked for (any region when it asked for none); among them the
one with the fewest clinics per unit of capacity weight (ties: by name). Offboarded clinics
do not count. It runs inside clinic_create's transaction, under its prefix lock, so two
signups at once see each other's clinics.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from telephony.models import DEFAULT_PROJECT, LiveKitProject, ProjectMove, Provisioning
from tenants.models import Clinic

logger = logging.getLogger(__name__)


def default_project() -> LiveKitProject:
    """The project of the environment's LIVEKIT_* settings (created on first use, so a
    database emptied by tests or restored without it still has one)."""
    project, _ = LiveKitProject.objects.get_or_create(
        name=DEFAULT_PROJECT, defaults={"from_environment": True}
    )
    return project


def project_of(clinic: Clinic) -> LiveKitProject:
    if clinic.livekit_project_id is not None:
        return clinic.livekit_project  # type: ignore[return-value]
    return default_project()


def carrier_sip_uri(clinic: Clinic) -> str:
    """Where the clinic's carrier should send calls: its project's SIP URI, except while a
    move to another project has not passed its test call (the source still serves;
    telephony/moves.py)."""
    return carrier_sip_uris([clinic])[clinic.pk]


def carrier_sip_uris(clinics: Iterable[Clinic]) -> dict[Any, str]:
    """`carrier_sip_uri` for many clinics, keyed by clinic id, in one query for the moves."""
    return {pk: uris[0] for pk, uris in carrier_destinations(clinics).items()}


def carrier_destinations(clinics: Iterable[Clinic]) -> dict[Any, tuple[str, str]]:
    """Where each clinic's carrier sends calls, keyed by clinic id: (SIP URI, fallback SIP
    URI or ""), both of the project that serves the clinic's calls (the source's while a
    move has not passed its test call). One query, for the moves."""
    clinics = list(clinics)
    early = (ProjectMove.State.PROVISIONING, ProjectMove.State.VERIFYING)
    sources = {
        move.clinic_id: move.source
        for move in ProjectMove.objects.filter(
            clinic_id__in=[c.pk for c in clinics], state__in=early
        ).select_related("source")
    }
    found: dict[Any, tuple[str, str]] = {}
    for clinic in clinics:
        source = sources.get(clinic.pk)
        project = source if source is not None and source.effective_sip_uri else project_of(clinic)
        found[clinic.pk] = (project.effective_sip_uri, project.effective_sip_fallback_uri)
    return found


def clinics_of(project: LiveKitProject) -> Q:
    """A filter on Clinic for the clinics of `project` (the default one includes clinics
    with no project recorded)."""
    if project.is_default:
        return Q(livekit_project=project) | Q(livekit_project__isnull=True)
    return Q(livekit_project=project)


def open_projects() -> list[LiveKitProject]:
    default_project()
    return list(
        LiveKitProject.objects.filter(
            status=LiveKitProject.Status.ACTIVE,
            accepting_new_clinics=True,
            owner_clinic__isnull=True,  # a clinic's own project is never placed into
        ).order_by("name")
    )


def open_regions() -> list[str]:
    """The region labels a new clinic may choose from (an unlabelled project adds none)."""
    return sorted({p.region for p in open_projects() if p.region})


def offers_region_choice() -> bool:
    return len(open_regions()) > 1


def _load(projects: list[LiveKitProject]) -> dict[int, int]:
    counts = dict(
        Clinic.objects.exclude(state=Clinic.State.OFFBOARDED)
        .filter(livekit_project__in=projects)
        .order_by()
        .values_list("livekit_project")
        .annotate(n=Count("pk"))
        .values_list("livekit_project", "n")
    )
    for project in projects:
        if project.is_default:
            counts[project.pk] = counts.get(project.pk, 0) + (
                Clinic.objects.exclude(state=Clinic.State.OFFBOARDED)
                .filter(livekit_project__isnull=True)
                .count()
            )
    return counts


def place(region: str | None = None) -> LiveKitProject:
    """The project a new clinic goes to. Raises ValidationError on field `region`."""
    candidates = open_projects()
    if not candidates:
        raise ValidationError(
            {"region": "Sign-up is paused: no LiveKit project takes new clinics. Try again later."}
        )
    wanted = (region or "").strip().lower()
    if wanted:
        regions = sorted({p.region for p in candidates if p.region})
        candidates = [p for p in candidates if p.region == wanted]
        if not candidates:
            choices = ", ".join(regions) or "none (leave the region out)"
            raise ValidationError(
                {"region": f"There is no open region named '{wanted}'. Choose one of: {choices}."}
            )
    load = _load(candidates)
    return min(candidates, key=lambda p: (load.get(p.pk, 0) / p.capacity_weight, p.name))


def has_upstream_objects(clinic: Clinic) -> bool:
    """Whether LiveKit may hold something of the clinic's (then changing its project is a
    move, not a pin)."""
    prov = Provisioning.objects.filter(clinic=clinic).first()
    if prov is None:
        return False
    leased = prov.lease_until is not None and prov.lease_until > timezone.now()
    return bool(
        prov.trunk_id or prov.dispatch_rule_id or prov.trunk_intent or prov.rule_intent or leased
    )


def pin(clinic: Clinic, project: LiveKitProject, *, actor: object = None) -> Clinic:
    """Staff put a clinic that has nothing in LiveKit yet in a project of their choice."""
    from audit.recorder import record

    with transaction.atomic():
        locked = Clinic.objects.select_for_update(no_key=True).get(pk=clinic.pk)
        before = project_of(locked)
        if before.pk == project.pk:
            return locked
        if has_upstream_objects(locked):
            raise ValidationError(
                {
                    "livekit_project": "This clinic already has objects in LiveKit project "
                    f"'{before.name}'; move it instead of pinning it."
                }
            )
        if project.status != LiveKitProject.Status.ACTIVE:
            raise ValidationError(
                {
                    "livekit_project": f"Project '{project.name}' is {project.status}; "
                    "pick an active one."
                }
            )
        if project.owner_clinic_id not in (None, locked.pk):
            raise ValidationError(
                {"livekit_project": f"Project '{project.name}' is another clinic's own project."}
            )
        locked.livekit_project = project
        locked.save(update_fields=["livekit_project", "updated_at"])
        record(
            "clinic.project_pinned",
            clinic=locked,
            changes={"livekit_project": [before.name, project.name]},
            actor=actor,
        )
    return locked


@dataclass(frozen=True)
class ProjectSummary:
    """What support staff and `livekit_project list` may see: never a secret."""

    name: str
    region: str
    url: str
    api_key: str
    sip_uri: str
    capacity_weight: int
    open: bool
    status: str
    from_environment: bool
    clinics: int


def summaries() -> list[ProjectSummary]:
    projects = list(LiveKitProject.objects.order_by("name"))
    if not any(p.is_default for p in projects):
        projects = [default_project(), *projects]
        projects.sort(key=lambda p: p.name)
    load = _load(projects)
    return [
        ProjectSummary(
            name=p.name,
            region=p.region,
            url=p.effective_url,
            api_key=p.effective_api_key,
            sip_uri=p.effective_sip_uri,
            capacity_weight=p.capacity_weight,
            open=p.open,
            status=p.status,
            from_environment=p.from_environment,
            clinics=load.get(p.pk, 0),
        )
        for p in projects
    ]


def check_credentials(project: LiveKitProject) -> None:
    """One read call with the project's credentials; ValidationError naming the field to fix."""
    from django.conf import settings

    from telephony.livekit_gateway import LiveKitAuthError, LiveKitError, LiveKitGateway

    config = project.config()
    gateway = LiveKitGateway(
        config.url, config.api_key, config.api_secret, settings.LIVEKIT_TIMEOUT_SECONDS
    )
    try:
        gateway.list_inbound_trunks(limit=1)
    except LiveKitAuthError:
        raise ValidationError(
            {
                "api_secret": "LiveKit refused this API key and secret (or the key lacks the "
                "SIP admin grant). Check both in the LiveKit project's settings."
            }
        ) from None
    except LiveKitError as exc:
        raise ValidationError(
            {"url": f"Could not reach LiveKit at {config.url}: {exc}. Check the server URL."}
        ) from None


def register_project(
    *,
    name: str,
    url: str,
    api_key: str,
    api_secret: str,
    sip_uri: str,
    region: str = "",
    weight: int = 1,
    accepting: bool = True,
    check: bool = True,
    sip_fallback_uri: str = "",
) -> LiveKitProject:
    """A new project, validated field by field and (with `check`) by one read call."""
    if name == DEFAULT_PROJECT:
        raise ValidationError(
            {
                "name": "'default' is the environment's project (LIVEKIT_* settings); "
                "use another name."
            }
        )
    if LiveKitProject.objects.filter(name=name).exists():
        raise ValidationError({"name": f"A project named '{name}' exists already."})
    if not api_secret:
        raise ValidationError({"api_secret": "Give the project's API secret."})
    project = LiveKitProject(
        name=name,
        region=(region or "").strip().lower(),
        url=url,
        api_key=api_key,
        api_secret=api_secret,
        sip_uri=sip_uri,
        sip_fallback_uri=(sip_fallback_uri or "").strip(),
        capacity_weight=weight,
        accepting_new_clinics=accepting,
    )
    for required in ("url", "api_key", "sip_uri"):
        if not getattr(project, required):
            raise ValidationError({required: f"Give the project's {required.replace('_', ' ')}."})
    project.full_clean()
    if check:
        check_credentials(project)
    project.save()  # django-auditlog records it (secrets excluded)
    return project


def set_credentials(
    project: LiveKitProject,
    *,
    api_key: str,
    api_secret: str,
    check: bool = True,
    actor: object = None,
) -> LiveKitProject:
    """Rotate a project's API key: checked with one read call, then saved; the audit log
    says the secret changed, never what it is."""
    from audit.recorder import record

    if project.from_environment:
        raise ValidationError(
            {
                "api_key": "The default project's key is LIVEKIT_API_KEY / LIVEKIT_API_SECRET: "
                "change them in the environment and restart."
            }
        )
    if not api_key or not api_secret:
        raise ValidationError({"api_secret": "Give both the new API key and its secret."})
    old_key = project.api_key
    project.api_key, project.api_secret = api_key, api_secret
    if check:
        check_credentials(project)
    project.save(update_fields=["api_key", "api_secret", "updated_at"])
    record(
        "livekit_project.key_rotated",
        target=project,
        actor=actor,
        changes={"api_key": [old_key, api_key], "api_secret": ["(set)", "(changed)"]},
    )
    return project
