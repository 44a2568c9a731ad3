"""Moving a live clinic to another LiveKit project without dropping calls (make before
break; docs/decisions/0096).

    plan_move    the dry run: every step, with the IDs, numbers and SIP URIs; writes nothing
    start_move   the clinic's project becomes the target and reconcile provisions it there;
                 the source's trunk and rule stay, recorded on the move, and keep serving
                 calls (the carrier still sends them to the source's SIP URI)
    advance      one step further when the previous one is done (idempotent; the sweeper
                 and the commands call it): target converged -> a test call in the target
                 -> wait for the carrier -> delete from the source -> done
    confirm_carrier  the carrier now sends calls to the target's SIP URI
    roll_back    before the carrier moved: back to the source, as it was; the target's
                 objects are deleted (or left to its drift scan as orphans)

While a move is open the source project's drift scan counts the recorded trunk and rule
as the clinic's (never orphans), and webhooks signed by the source project for the
clinic's rooms are accepted (calls keep arriving there until the carrier moves).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from celery import current_app
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from telephony import move_cleanup, move_lines
from telephony.models import LiveKitProject, PhoneNumber, ProjectMove, Provisioning
from telephony.move_carrier import carrier_automatic, carrier_repointed
from telephony.projects import project_of
from telephony.task_names import ADVANCE_MOVE
from tenants.models import Clinic, User

logger = logging.getLogger(__name__)

TEST_CALLER = move_cleanup.TEST_CALLER
State = ProjectMove.State


@dataclass(frozen=True)
class MovePlan:
    clinic: str
    source: str
    target: str
    steps: tuple[str, ...]


def open_move(clinic: Clinic) -> ProjectMove | None:
    return (
        ProjectMove.objects.filter(clinic=clinic, state__in=ProjectMove.OPEN)
        .select_related("source", "target")
        .first()
    )


def _check(clinic: Clinic, target: LiveKitProject) -> tuple[LiveKitProject, Provisioning]:
    """The source project and the clinic's provisioning row, or ValidationError naming
    the field and the fix."""
    from telephony.provisioning.circuit import auth_blocked

    source = project_of(clinic)
    if source.pk == target.pk:
        raise ValidationError({"target": f"The clinic is in project '{target.name}' already."})
    if target.status != LiveKitProject.Status.ACTIVE:
        raise ValidationError(
            {"target": f"Project '{target.name}' is {target.status}; pick an active one."}
        )
    if target.owner_clinic_id not in (None, clinic.pk):
        raise ValidationError(
            {"target": f"Project '{target.name}' is another clinic's own project."}
        )
    if auth_blocked(target.name):
        raise ValidationError(
            {"target": f"Project '{target.name}' refuses its credentials; fix its key first."}
        )
    if open_move(clinic) is not None:
        raise ValidationError({"clinic": "A move of this clinic is under way already."})
    if clinic.state != Clinic.State.LIVE:
        raise ValidationError(
            {"clinic": "Only a live clinic is moved; pin a clinic that is not live yet."}
        )
    prov = Provisioning.objects.get(clinic=clinic)
    if prov.state != Provisioning.State.ACTIVE or not prov.converged or not prov.trunk_id:
        raise ValidationError(
            {
                "clinic": "The clinic is not settled in LiveKit (provisioning is "
                f"{prov.get_state_display().lower()}); move it once it is active."
            }
        )
    if prov.trunk_intent or prov.rule_intent or move_lines.lines_in_flight(clinic):
        raise ValidationError({"clinic": "A LiveKit write is in flight; try again shortly."})
    return source, prov


def plan_move(clinic: Clinic, target: LiveKitProject) -> MovePlan:
    """Every step of the move, with what it touches; nothing is written or called."""
    source, prov = _check(clinic, target)
    numbers = ", ".join(PhoneNumber.objects.for_clinic(clinic).values_list("e164", flat=True))
    old_uri, new_uri = source.effective_sip_uri, target.effective_sip_uri
    lines = move_lines.snapshot(clinic)
    extra = f" Other lines, each with its own rule: {move_lines.describe(lines)}." if lines else ""
    steps = (
        f"Create an inbound trunk for {numbers} and its dispatch rule (rooms "
        f"{clinic.room_prefix}_…) in project '{target.name}', and a rule per other line "
        f"({len(lines)}).{extra} Project '{source.name}' keeps serving every call meanwhile.",
        f"Test call in project '{target.name}' to each number: each must reach a room of "
        "the clinic with its agent. If it does not, the move is called off and the new "
        f"objects deleted; the clinic stays in '{source.name}'.",
        (
            f"Carrier: Switchboard points the clinic's carrier trunk at {new_uri} instead of "
            f"{old_uri}, and the move goes on once the carrier has it."
            if carrier_automatic(clinic)
            else f"Carrier: calls to {numbers} must go to {new_uri} instead of {old_uri}. The "
            "clinic's admin is shown the new address and the move waits for their "
            "confirmation (or an operator's). Until then it can still be called off."
        ),
        f"Delete dispatch rule{'s' if lines else ''} "
        f"{', '.join([prov.dispatch_rule_id or '(none)', *(i['rule_id'] for i in lines)])} "
        f"and trunk {prov.trunk_id} from project '{source.name}'.",
    )
    return MovePlan(clinic.slug, source.name, target.name, steps)


def _log(move: ProjectMove, step: str) -> None:
    move.log = [*move.log, {"at": timezone.now().isoformat(), "step": step}]
    move.detail = step


def start_move(clinic: Clinic, target: LiveKitProject, *, actor: User | None = None) -> ProjectMove:
    from audit.recorder import record
    from telephony.provisioning.lease import lease_free
    from telephony.provisioning_requests import request_provisioning

    with transaction.atomic():
        clinic = Clinic.objects.select_for_update(no_key=True).get(pk=clinic.pk)
        source, _ = _check(clinic, target)
        prov = (
            Provisioning.objects.select_for_update()
            .filter(lease_free())
            .filter(clinic=clinic)
            .first()
        )
        if prov is None:
            raise ValidationError(
                {"clinic": "LiveKit is being updated for this clinic; try again in a few seconds."}
            )
        move = ProjectMove(
            clinic=clinic,
            source=source,
            target=target,
            source_trunk_id=prov.trunk_id,
            source_rule_id=prov.dispatch_rule_id,
            source_trunk_hash=prov.trunk_applied_hash,
            source_rule_hash=prov.rule_applied_hash,
            source_lines=move_lines.snapshot(clinic),
            actor=actor,
        )
        _log(move, f"Provisioning in project '{target.name}'; '{source.name}' serves calls.")
        move.save()
        clinic.livekit_project = target
        clinic.save(update_fields=["livekit_project", "updated_at"])
        Provisioning.objects.filter(pk=prov.pk).update(
            trunk_id="", dispatch_rule_id="", trunk_applied_hash="", rule_applied_hash=""
        )
        move_lines.hand_over(clinic)
        request_provisioning(clinic, reason=f"move to LiveKit project {target.name}", actor=actor)
        record(
            "clinic.project_move_started",
            clinic=clinic,
            changes={"livekit_project": [source.name, target.name]},
            actor=actor,
        )
    return move


def advance(move: ProjectMove) -> ProjectMove:
    """Take the next step if the previous one is done. Never raises for LiveKit."""
    move.refresh_from_db()
    if move.call_off_reason and _can_call_off(move):
        return roll_back(move, reason=move.call_off_reason)
    if move.state == State.PROVISIONING:
        prov = Provisioning.objects.get(clinic=move.clinic)
        if prov.state == Provisioning.State.FAILED:
            return roll_back(move, reason=f"provisioning in the target failed: {prov.last_error}")
        if prov.state == Provisioning.State.ACTIVE and prov.converged and prov.trunk_id:
            _save(move, State.VERIFYING, "Set up in the target; test call next.")
            return advance(move)
    elif move.state == State.VERIFYING:
        return _verify(move)
    elif move.state == State.AWAITING_CARRIER:
        if carrier_automatic(move.clinic) and carrier_repointed(move):
            return confirm_carrier(move)
    elif move.state == State.DELETING:
        return _delete_source(move)
    return move


def _save(move: ProjectMove, state: str, step: str) -> None:
    move.state = state
    _log(move, step)
    if state in (State.DONE, State.ROLLED_BACK):
        move.finished_at = timezone.now()
    move.save()


def _delete_source(move: ProjectMove) -> ProjectMove:
    problem = move_cleanup.delete_source(move)
    if problem:
        _log(move, problem)
        move.save(update_fields=["log", "detail", "updated_at"])
        return move
    _save(move, State.DONE, f"Removed from project '{move.source.name}'. The move is done.")
    move_cleanup.retire_if_left(move)
    return move


def _verify(move: ProjectMove) -> ProjectMove:
    from telephony.testcall import TestCallUnavailable, test_call_run

    try:
        report = test_call_run(clinic=move.clinic, caller=TEST_CALLER)
    except TestCallUnavailable as exc:  # the target cannot be reached: wait, the source serves
        _log(move, f"Test call not possible yet: {exc.sentence}")
        move.save(update_fields=["log", "detail", "updated_at"])
        return move
    if not report.passed:
        problems = "; ".join(p for r in report.results for p in r.problems)
        return roll_back(move, reason=f"the test call in the target failed: {problems}")
    target = move.target
    if carrier_automatic(move.clinic):
        from telephony.provisioning_requests import request_provisioning

        with transaction.atomic():
            _save(
                move,
                State.AWAITING_CARRIER,
                f"Test call passed in '{target.name}'. Pointing the clinic's carrier at "
                f"{target.effective_sip_uri}.",
            )
            request_provisioning(
                move.clinic, reason=f"move to LiveKit project {target.name}: repoint the carrier"
            )
        return move
    _save(
        move,
        State.AWAITING_CARRIER,
        f"Test call passed in '{target.name}'. Point the carrier at {target.effective_sip_uri}, "
        "then confirm.",
    )
    return move


def _can_call_off(move: ProjectMove) -> bool:
    """Only while the carrier still sends calls to the source: before the test call passed,
    or after it when the carrier is configured by hand and not yet confirmed. A connected
    carrier is repointed by the engine as soon as the test call passes."""
    if move.state in (State.PROVISIONING, State.VERIFYING):
        return True
    return move.state == State.AWAITING_CARRIER and not carrier_automatic(move.clinic)


def confirm_carrier(
    move: ProjectMove, *, actor: User | None = None, later: bool = False
) -> ProjectMove:
    """The carrier sends calls to the target now; the source is deleted next (after a last
    test call). `later`: the next step runs in a worker after the commit (web and API)."""
    from audit.recorder import record

    with transaction.atomic():
        move = ProjectMove.objects.select_for_update().get(pk=move.pk)
        if move.state != State.AWAITING_CARRIER:
            raise ValidationError(
                {"state": f"The move is '{move.get_state_display()}', not waiting for the carrier."}
            )
        _save(
            move, State.DELETING, "The carrier uses the new address; deleting from the old project."
        )
        record(
            "clinic.project_move_carrier_confirmed",
            clinic=move.clinic,
            actor=actor,
            changes={"sip_uri": [move.source.effective_sip_uri, move.target.effective_sip_uri]},
        )
        if later:
            transaction.on_commit(
                lambda: current_app.signature(ADVANCE_MOVE, args=[move.pk]).apply_async()
            )
    return move if later else advance(move)


def roll_back(move: ProjectMove, *, reason: str, actor: User | None = None) -> ProjectMove:
    """Back to the source, as it was, while the carrier still sends calls there. When a
    reconcile holds the clinic right now, the move is marked and the next `advance`
    completes the roll-back."""
    from audit.recorder import record
    from telephony.provisioning.lease import lease_free
    from telephony.provisioning_requests import request_provisioning

    with transaction.atomic():
        move = ProjectMove.objects.select_for_update().get(pk=move.pk)
        if not _can_call_off(move):
            raise ValidationError(
                {"state": "The carrier uses the new project already: the move can only finish."}
            )
        clinic = Clinic.objects.select_for_update(no_key=True).get(pk=move.clinic_id)
        prov = (
            Provisioning.objects.select_for_update()
            .filter(lease_free())
            .filter(clinic=clinic)
            .first()
        )
        if prov is None:
            move.call_off_reason = reason[:500]
            _log(move, f"Calling off once the current LiveKit write ends ({reason}).")
            move.save(update_fields=["call_off_reason", "log", "detail", "updated_at"])
            return move
        made = ([*move_lines.restore(move), prov.dispatch_rule_id], prov.trunk_id)
        _restore_source(move, prov)
        clinic.livekit_project = move.source
        clinic.save(update_fields=["livekit_project", "updated_at"])
        request_provisioning(clinic, reason=f"move called off: {reason}"[:500], verify=True)
        _save(
            move,
            State.ROLLED_BACK,
            f"Called off: {reason}. Still served by '{move.source.name}'.",
        )
        record(
            "clinic.project_move_rolled_back",
            clinic=clinic,
            actor=actor,
            changes={"livekit_project": [move.target.name, move.source.name]},
        )
    move_cleanup.delete_quietly(move.target, made)
    return move


def _restore_source(move: ProjectMove, prov: Provisioning) -> None:
    """The source's IDs and hashes back on the clinic's row. A create in the target whose
    outcome is unknown is forgotten: the clinic is no longer the target's, so whatever it
    made there is the target's orphan, for its drift scan."""
    Provisioning.objects.filter(pk=prov.pk).update(
        trunk_id=move.source_trunk_id,
        dispatch_rule_id=move.source_rule_id,
        trunk_applied_hash=move.source_trunk_hash,
        rule_applied_hash=move.source_rule_hash,
        trunk_intent=None,
        trunk_intent_numbers=[],
        trunk_intent_at=None,
        rule_intent=None,
        rule_intent_at=None,
    )


def claimed_by_moves(project: LiveKitProject) -> set[str]:
    """The source objects of the open moves out of `project` (never its orphans)."""
    claimed: set[str] = set()
    for move in ProjectMove.objects.filter(source=project, state__in=ProjectMove.OPEN):
        ids = (move.source_trunk_id, move.source_rule_id, *move_lines.source_rule_ids(move))
        claimed.update(i for i in ids if i)
    return claimed


def serves_during_move(project_pk: int | None, clinic: Clinic) -> bool:
    """Whether `project` (None: default) is the source of the clinic's open move."""
    moves = ProjectMove.objects.filter(clinic=clinic, state__in=ProjectMove.OPEN)
    if project_pk is None:
        return moves.filter(source__from_environment=True).exists()
    return moves.filter(source_id=project_pk).exists()


def moves_to_advance() -> list[int]:
    """Open moves that wait for no person (the sweeper advances them)."""
    waiting = Q(state__in=(State.PROVISIONING, State.VERIFYING, State.DELETING)) | ~Q(
        call_off_reason=""
    )
    return list(
        ProjectMove.objects.filter(waiting, state__in=ProjectMove.OPEN).values_list(
            "pk", flat=True
        )[:100]
    )
