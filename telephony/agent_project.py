"""Which LiveKit project an agent worker serves, against the projects that serve the clinic
whose config it fetches (decision 0155).

Agent workers run one per LiveKit project and say which in the `X-Switchboard-Project`
header of the config fetch (`SWITCHBOARD_PROJECT`, docs/agent.md). A clinic's calls arrive
through its project, and during a move between projects through the move's source as well.
A worker of another project fetching the clinic's config is a misdeployment (its
`SWITCHBOARD_PROJECT` or its `LIVEKIT_*` are another project's, or the clinic has objects
left in that project): the caller is on the line, so the config is still answered, with
the `X-Switchboard-Project-Mismatch` header naming the mismatch, and the platform logs a
warning. A fetch without the header (an older worker, a script) is not checked.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any, cast

from django.db.models import OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from telephony.models import DEFAULT_PROJECT, LiveKitProject, ProjectMove
from telephony.models.projects import project_name_validator

NAME_SHAPE = cast(re.Pattern[str], project_name_validator.regex)

logger = logging.getLogger("switchboard.agent_project")

HEADER = "X-Switchboard-Project"
META_KEY = "HTTP_X_SWITCHBOARD_PROJECT"
MISMATCH_HEADER = "X-Switchboard-Project-Mismatch"


def worker_project(meta: Mapping[str, Any]) -> str | None:
    """The project the fetching worker says it serves; None when it does not say."""
    value = str(meta.get(META_KEY, "")).strip()
    return value or None


def serving_annotations() -> dict[str, Any]:
    """Annotations of a Receptionist queryset (`serving_project`, `serving_move_source`):
    the projects that serve its clinic, read in the same query as the receptionist."""
    project = OuterRef("clinic__livekit_project_id")
    return {
        "serving_project": Coalesce(
            Subquery(LiveKitProject.objects.filter(pk=project).values("name")[:1]),
            Value(DEFAULT_PROJECT),
        ),
        "serving_move_source": Subquery(
            ProjectMove.objects.filter(
                clinic_id=OuterRef("clinic_id"), state__in=ProjectMove.OPEN
            ).values("source__name")[:1]
        ),
    }


def serving_of(clinic: Any) -> tuple[str, str | None]:
    """The same two names for a clinic read without them (the `?room=` fetch)."""
    from telephony.projects import project_of

    source = (
        ProjectMove.objects.filter(clinic=clinic, state__in=ProjectMove.OPEN)
        .values_list("source__name", flat=True)
        .first()
    )
    return project_of(clinic).name, source


def serves(worker: str, serving: Iterable[str | None]) -> bool:
    return worker in {name for name in serving if name}


def mismatch(worker: str, clinic_id: object, serving: Iterable[str | None]) -> str:
    """The sentence for a worker of another project, naming both sides and the fix. The
    worker's value is repeated only if it has a project name's shape."""
    names = " and ".join(sorted({name for name in serving if name}))
    shaped = NAME_SHAPE.match(worker)
    said = f"project {worker!r}" if shaped else "a malformed project name"
    sentence = (
        f"This agent worker says it serves LiveKit {said} (SWITCHBOARD_PROJECT), but the "
        f"calls of clinic {clinic_id} arrive through {names}: run this clinic's calls on a "
        f"worker of {names}, or fix this worker's SWITCHBOARD_PROJECT and LIVEKIT_* "
        "(docs/agent.md)."
    )
    logger.warning("agent project mismatch: %s", sentence)
    return sentence


def mismatch_headers(meta: Mapping[str, Any], clinic: Any, receptionist: Any) -> dict[str, str]:
    """The view's check: {MISMATCH_HEADER: sentence} for a worker of another project, else
    {}. `receptionist` carries `serving_annotations` when it came from `live_receptionist`
    (the `?clinic=` fetch); a `?room=` fetch's projects are read here."""
    worker = worker_project(meta)
    if worker is None:
        return {}
    if hasattr(receptionist, "serving_project"):
        serving = (receptionist.serving_project, receptionist.serving_move_source)
    else:
        serving = serving_of(clinic)
    if serves(worker, serving):
        return {}
    return {MISMATCH_HEADER: mismatch(worker, clinic.pk, serving)}
