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


def elsewhere_than_default(clinic_ids: list[str]) -> set[str]:
    """Those of the clinics whose project is not the default one."""
    return {
        str(pk)
        for pk in Clinic.objects.filter(pk__in=clinic_ids, livekit_project__isnull=False)
        .exclude(livekit_project__name=DEFAULT_PROJECT)
        .values_list("pk", flat=True)
    }
