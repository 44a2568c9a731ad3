"""The end of a move (telephony/moves.py): the last check in the target and the deletion of
what the source held; and, on a call-off, of what the target had made.

The move can wait for the carrier confirmation for days (a clinic's admin changes their
carrier by hand), so before the source is deleted the target is tested once more: the
source is the only thing left that could answer the clinic's calls if the target had lost
something meanwhile. While the last test call fails the source is kept and the step is
retried (the target's drift scan and reconcile repair it); the move cannot be called off
any more, since the carrier may already send calls to the target (decision 0131).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

from telephony import move_lines
from telephony.livekit_gateway import LiveKitError, LiveKitNotFoundError
from telephony.models import LiveKitProject, ProjectMove

logger = logging.getLogger(__name__)

TEST_CALLER = "+12125550199"


def last_check(move: ProjectMove) -> str:
    """'' when a test call in the target reaches the clinic's rooms; else why not."""
    from telephony.testcall import TestCallUnavailable, test_call_run

    name = move.target.name
    try:
        report = test_call_run(clinic=move.clinic, caller=TEST_CALLER)
    except TestCallUnavailable as exc:
        return (
            f"The last test call in '{name}' is not possible yet ({exc.sentence}); "
            f"'{move.source.name}' is kept until it passes."
        )
    if not report.passed:
        problems = "; ".join(p for r in report.results for p in r.problems)
        return (
            f"The last test call in '{name}' failed ({problems}); "
            f"'{move.source.name}' is kept until it passes."
        )
    return ""


def delete_source(move: ProjectMove) -> str:
    """'' once the source holds nothing of the clinic's; else why it waits."""
    from telephony.upstream import gateway_for

    problem = last_check(move)
    if problem:
        return problem
    gw = gateway_for(move.source)
    try:
        for rule_id in [*move_lines.source_rule_ids(move), move.source_rule_id]:
            if rule_id:
                gone(gw.delete_dispatch_rule, rule_id)
        gone(gw.delete_trunk, move.source_trunk_id)
    except LiveKitError as exc:  # retried by the next advance; the target serves meanwhile
        return f"Project '{move.source.name}' could not remove it yet: {exc.sentence}"
    return ""


def gone(delete: Callable[[str], object], object_id: str) -> None:
    with contextlib.suppress(LiveKitNotFoundError):  # already gone is gone
        delete(object_id)


def delete_quietly(project: LiveKitProject, made: tuple[list[str], str]) -> None:
    """What the move created in the target; left to its drift scan when it cannot be."""
    from telephony.upstream import gateway_for

    rule_ids, trunk_id = made
    try:
        gw = gateway_for(project)
        for rule_id in filter(None, rule_ids):
            gone(gw.delete_dispatch_rule, rule_id)
        if trunk_id:
            gone(gw.delete_trunk, trunk_id)
    except LiveKitError as exc:
        logger.warning(
            "move roll-back: %s keeps %s for its drift scan (%s)", project.name, made, exc.sentence
        )


def retire(project: LiveKitProject) -> None:
    """A clinic's own project that no clinic uses any more: kept (the moves refer to it),
    never used again. Connecting it again reactivates it with the values given then."""
    LiveKitProject.objects.filter(pk=project.pk).update(status=LiveKitProject.Status.RETIRED)


def retire_if_left(move: ProjectMove) -> None:
    """After a move out of a clinic's own project is done."""
    if move.source.owner_clinic_id is not None and move.source.owner_clinic_id == move.clinic_id:
        retire(move.source)
