"""`manage.py move_clinic SLUG --to PROJECT [--dry-run]` and its follow-ups: move a live
clinic to another LiveKit project without dropping calls (telephony/moves.py).

    move_clinic SLUG --to eu-west --dry-run   every step, nothing done
    move_clinic SLUG --to eu-west             start: provision in the target
    move_clinic SLUG                          the open move's state (and one step further)
    move_clinic SLUG --carrier-confirmed      the carrier uses the target's SIP URI now
    move_clinic SLUG --call-off               back to the source (before the carrier moved)
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from telephony.models import LiveKitProject, ProjectMove
from telephony.moves import (
    advance,
    confirm_carrier,
    open_move,
    plan_move,
    roll_back,
    start_move,
)
from tenants.models import Clinic


class Command(BaseCommand):
    help = "Move a live clinic to another LiveKit project (make before break)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="the clinic's slug")
        parser.add_argument("--to", help="the target project's name (starts a move)")
        parser.add_argument("--dry-run", action="store_true", help="print every step only")
        parser.add_argument("--carrier-confirmed", action="store_true")
        parser.add_argument("--call-off", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        clinic = Clinic.objects.filter(slug=options["slug"]).first()
        if clinic is None:
            raise CommandError(f"SLUG: no clinic has the slug '{options['slug']}'.")
        try:
            if options["to"]:
                self._start(clinic, options["to"], dry_run=options["dry_run"])
                return
            move = open_move(clinic)
            if move is None:
                last = ProjectMove.objects.filter(clinic=clinic).first()
                self.stdout.write(f"No move under way. Last: {last}." if last else "No move.")
                return
            if options["carrier_confirmed"]:
                move = confirm_carrier(move)
            elif options["call_off"]:
                move = roll_back(move, reason="called off by an operator")
            else:
                move = advance(move)
        except ValidationError as exc:
            raise CommandError(
                "\n".join(
                    f"{'--to' if f == 'target' else f}: {' '.join(m)}"
                    for f, m in exc.message_dict.items()
                )
            ) from None
        self.stdout.write(f"{move.get_state_display()}: {move.detail}")

    def _start(self, clinic: Clinic, name: str, *, dry_run: bool) -> None:
        target = LiveKitProject.objects.filter(name=name).first()
        if target is None:
            raise ValidationError({"target": f"No LiveKit project is named '{name}'."})
        if dry_run:
            plan = plan_move(clinic, target)
            self.stdout.write(f"Dry run: move {plan.clinic} from {plan.source} to {plan.target}")
            for n, step in enumerate(plan.steps, 1):
                self.stdout.write(f"  {n}. {step}")
            return
        move = start_move(clinic, target)
        self.stdout.write(f"{move.get_state_display()}: {move.detail}")
