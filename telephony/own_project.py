"""A clinic's own LiveKit project (issue 17, decision 0132).

A clinic whose plan allows it (`Clinic.may_bring_livekit_project`, set by staff) connects a
LiveKit project of its own: server URL, API key and secret, SIP URI, and optionally the key
its webhooks are signed with. The credentials are checked with one read call (list inbound
trunks) before anything is saved; the secrets are encrypted at rest and never shown again.

The project is registered like any other (`LiveKitProject`, with `owner_clinic` set), so
the engine, the limiter, the circuit, the drift scan, readiness and the webhook receiver
treat it as one more project; but it is private: placement never chooses it, no other
clinic is pinned or moved into it, and support staff see its name only.

Connecting moves the clinic into it with the move machinery (make before break, never
unrouted; telephony/moves.py); a clinic that has nothing in LiveKit yet is pinned to it.
Disconnecting moves the clinic back to the project it came from (or, if that one no longer
takes clinics, to the one placement chooses), and the own project is retired once the move
is done.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from telephony.models import LiveKitProject, ProjectMove
from telephony.move_cleanup import retire
from telephony.moves import open_move, start_move
from telephony.projects import has_upstream_objects, pin, place, project_of
from tenants.models import Clinic, User

SIP_URI_RE = re.compile(r"^sips?:[A-Za-z0-9.\-\[\]:]+(;[A-Za-z0-9=\-]+)*$")
KEY_RE = re.compile(r"^\S{1,200}$")
NOT_ALLOWED = (
    "Your plan does not include a LiveKit project of your own. Ask Switchboard support to allow it."
)


@dataclass(frozen=True)
class OwnProjectInput:
    url: str
    api_key: str
    api_secret: str  # empty: keep the stored one
    sip_uri: str
    webhook_key: str = ""
    webhook_secret: str = ""  # empty: keep the stored one (or none: the API secret)


def own_project(clinic: Clinic) -> LiveKitProject | None:
    return LiveKitProject.objects.filter(owner_clinic=clinic).first()


def _name(clinic: Clinic) -> str:
    base = re.sub(r"[^a-z0-9-]+", "-", f"own-{clinic.slug}".lower())[:40].strip("-")
    name, n = base, 2
    while LiveKitProject.objects.filter(name=name).exclude(owner_clinic=clinic).exists():
        suffix = f"-{n}"
        name, n = base[: 40 - len(suffix)] + suffix, n + 1
    return name


def _server_url(url: str) -> str:
    """LiveKit shows wss:// URLs; its API is the same host over https."""
    url = url.strip()
    for ws, http in (("wss://", "https://"), ("ws://", "http://")):
        if url.lower().startswith(ws):
            return http + url[len(ws) :]
    return url


def _clean(values: OwnProjectInput, existing: LiveKitProject | None) -> dict[str, str]:
    errors: dict[str, str] = {}
    url = _server_url(values.url)
    if not re.match(r"^https?://[^\s/]+", url):
        errors["url"] = (
            "Give the project's server URL as LiveKit shows it, e.g. "
            "wss://your-project.livekit.cloud."
        )
    if not KEY_RE.match(values.api_key.strip()):
        errors["api_key"] = "Give the project's API key (from its Settings → Keys page)."
    if not values.api_secret and (existing is None or not existing.api_secret):
        errors["api_secret"] = "Give the API key's secret."  # noqa: S105 - a sentence
    elif values.api_secret and not KEY_RE.match(values.api_secret):
        errors["api_secret"] = "The secret has spaces or is too long; paste it again."  # noqa: S105
    if not SIP_URI_RE.match(values.sip_uri.strip()):
        errors["sip_uri"] = (
            "Give the project's SIP URI as LiveKit shows it, e.g. sip:abc123.sip.livekit.cloud."
        )
    if values.webhook_key and not KEY_RE.match(values.webhook_key.strip()):
        errors["webhook_key"] = (
            "Give the API key that signs the project's webhooks, or leave it out."
        )
    if errors:
        raise ValidationError(errors)
    return {
        "url": url,
        "api_key": values.api_key.strip(),
        "sip_uri": values.sip_uri.strip(),
        "webhook_key": values.webhook_key.strip(),
    }


def check_own(project: LiveKitProject) -> None:
    """One read call with the project's credentials; ValidationError with the field and a
    sentence for: refused credentials, unreachable, not a LiveKit server."""
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
                "api_secret": "Your LiveKit project refused this API key and secret (or the "
                "key lacks the SIP admin permission). Check both on its Settings → Keys page."
            }
        ) from None
    except LiveKitError as exc:
        unreachable = exc.status is None and (
            "reached" in exc.sentence or "in time" in exc.sentence
        )
        if unreachable:
            sentence = f"Could not reach {config.url}. Check the server URL."
        elif exc.status is not None and (exc.status >= 500 or exc.status == 429):
            sentence = f"The server at {config.url} answered with an error; try again shortly."
        else:
            sentence = (
                f"The server at {config.url} answers, but not as a LiveKit server. Check the "
                "server URL."
            )
        raise ValidationError({"url": sentence}) from None


def own_project_connect(
    *, clinic: Clinic, values: OwnProjectInput, actor: User | None = None
) -> LiveKitProject:
    """Save (or update) the clinic's own project after one read call, and move the clinic
    into it (or pin it there when LiveKit holds nothing of the clinic's yet)."""
    from audit.recorder import record

    if not clinic.may_bring_livekit_project:
        raise ValidationError({"non_field_errors": NOT_ALLOWED})
    if open_move(clinic) is not None:
        raise ValidationError(
            {"non_field_errors": "Your phone line is moving already; try again once it is done."}
        )
    existing = own_project(clinic)
    fields = _clean(values, existing)
    project = existing or LiveKitProject(
        name=_name(clinic), owner_clinic=clinic, accepting_new_clinics=False
    )
    for name, value in fields.items():
        setattr(project, name, value)
    if values.api_secret:
        project.api_secret = values.api_secret
    if values.webhook_secret:
        project.webhook_secret = values.webhook_secret
    project.status = LiveKitProject.Status.ACTIVE
    project.accepting_new_clinics = False
    check_own(project)  # outside any transaction: a network call
    with transaction.atomic():
        project.save()  # django-auditlog records it, secrets excluded
        if project_of(clinic).pk != project.pk:
            if has_upstream_objects(clinic):
                start_move(clinic, project, actor=actor)  # refusals roll the save back
            else:
                pin(clinic, project, actor=actor)
        record(
            "clinic.own_project_connected",
            clinic=clinic,
            actor=actor,
            changes={"url": ["", project.url], "api_secret": ["(set)", "(changed)"]}
            if values.api_secret
            else {"url": ["", project.url]},
        )
    return project


def _way_back(clinic: Clinic, project: LiveKitProject) -> LiveKitProject:
    """The project the clinic came from when it still takes clinics; else placement's."""
    came = (
        ProjectMove.objects.filter(clinic=clinic, target=project, state=ProjectMove.State.DONE)
        .select_related("source")
        .first()
    )
    active = LiveKitProject.Status.ACTIVE
    if came is not None and came.source.status == active and came.source.owner_clinic_id is None:
        return came.source
    return place(came.source.region if came is not None else None)


def own_project_disconnect(*, clinic: Clinic, actor: User | None = None) -> ProjectMove | None:
    """Move the clinic back to a platform project; the own project is retired when the move
    is done (at once when the clinic is not in it)."""
    from audit.recorder import record

    project = own_project(clinic)
    if project is None or project.status == LiveKitProject.Status.RETIRED:
        raise ValidationError(
            {"non_field_errors": "You have no LiveKit project of your own connected."}
        )
    if open_move(clinic) is not None:
        raise ValidationError(
            {"non_field_errors": "Your phone line is moving already; try again once it is done."}
        )
    move = None
    with transaction.atomic():
        if project_of(clinic).pk == project.pk:
            back = _way_back(clinic, project)
            if has_upstream_objects(clinic):
                move = start_move(clinic, back, actor=actor)
            else:
                pin(clinic, back, actor=actor)
        if move is None:
            retire(project)
        record(
            "clinic.own_project_disconnected",
            clinic=clinic,
            actor=actor,
            changes={"url": [project.url, ""]},
        )
    return move


def own_project_status(clinic: Clinic) -> dict[str, Any]:
    """What the clinic sees of its own project: never a secret."""
    project = own_project(clinic)
    move = open_move(clinic)
    connected = project is not None and project.status != LiveKitProject.Status.RETIRED
    state = "none"
    if connected and project is not None:
        in_it = project_of(clinic).pk == project.pk
        if move is not None and move.target_id == project.pk:
            state = "moving_in"
        elif move is not None and move.source_id == project.pk:
            state = "moving_out"
        else:
            state = "in_use" if in_it else "not_in_use"
    return {
        "allowed": clinic.may_bring_livekit_project,
        "connected": connected,
        "state": state,
        "name": project.name if connected and project else "",
        "url": project.url if connected and project else "",
        "api_key": project.api_key if connected and project else "",
        "sip_uri": project.sip_uri if connected and project else "",
        "webhook_key": project.webhook_key if connected and project else "",
        "move_detail": move.detail if move is not None else "",
    }
