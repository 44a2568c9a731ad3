"""Which LiveKit project, and so which gateway, limiter and circuit, serves a clinic.

The `default` project (the LIVEKIT_* settings) gets `get_gateway()` exactly as before, so
settings.LIVEKIT_GATEWAY (tests' fakes) still applies to it; every other project gets a
gateway built from its row, with a rate limiter of its own (LiveKit's limit is per project).
The gateway carries the project's name: the credentials circuit and the limiter are that
project's (docs/decisions/0070).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from telephony.livekit_gateway import LiveKitGateway, get_gateway
from telephony.models import DEFAULT_PROJECT, LiveKitProject
from tenants.models import Clinic


def gateway_for(project: LiveKitProject) -> LiveKitGateway:
    if project.from_environment:
        return get_gateway()
    cls = import_string(settings.LIVEKIT_GATEWAY)
    if not hasattr(cls, "for_project"):
        cls = LiveKitGateway
    config = project.config()
    gateway: LiveKitGateway = cls.for_project(
        config.name, config.url, config.api_key, config.api_secret, settings.LIVEKIT_TIMEOUT_SECONDS
    )
    return gateway


def project_for_clinic(clinic_id: Any) -> LiveKitProject | None:
    """The clinic's project, or None when it is the default one."""
    row = (
        Clinic.objects.filter(pk=clinic_id)
        .select_related("livekit_project")
        .only("livekit_project")
        .first()
    )
    project = row.livekit_project if row is not None else None
    if project is None or project.name == DEFAULT_PROJECT:
        return None
    return project


def gateway_for_clinic(clinic_id: Any) -> LiveKitGateway:
    project = project_for_clinic(clinic_id)
    return get_gateway() if project is None else gateway_for(project)


def project_name(gateway: object) -> str:
    """The project a gateway talks to (fakes and older gateways: the default one)."""
    return str(getattr(gateway, "project", DEFAULT_PROJECT))


def clinics_by_project(clinic_ids: list[str]) -> list[tuple[LiveKitProject | None, list[str]]]:
    """The clinics grouped by LiveKit project, the default one (None) first, then by name;
    ids in their given order. Two queries whatever the count. A clinic that does not exist
    goes with the default project (a run finds nothing to do for it)."""
    owners = {
        str(pk): project_id
        for pk, project_id in Clinic.objects.filter(pk__in=clinic_ids).values_list(
            "pk", "livekit_project_id"
        )
    }
    projects = LiveKitProject.objects.in_bulk({p for p in owners.values() if p is not None})
    groups: dict[int | None, list[str]] = {}
    for clinic_id in clinic_ids:
        project_id = owners.get(str(clinic_id))
        project = None if project_id is None else projects.get(project_id)
        key = None if project is None or project.name == DEFAULT_PROJECT else project.pk
        groups.setdefault(key, []).append(clinic_id)
    order = sorted(groups, key=lambda k: "" if k is None else projects[k].name)
    return [(None if k is None else projects[k], groups[k]) for k in order]
