"""Moving a clinic from one LiveKit project to another, make before break
(telephony/moves.py, docs/decisions/0096)."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q

from tenants.models import Clinic


class ProjectMove(models.Model):
    class State(models.TextChoices):
        PROVISIONING = "provisioning", "Setting up in the new project"
        VERIFYING = "verifying", "Test call in the new project"
        AWAITING_CARRIER = "awaiting_carrier", "Waiting for the carrier to use the new address"
        DELETING = "deleting", "Removing from the old project"
        DONE = "done", "Done"
        ROLLED_BACK = "rolled_back", "Called off: still in the old project"

    OPEN: ClassVar = (
        State.PROVISIONING,
        State.VERIFYING,
        State.AWAITING_CARRIER,
        State.DELETING,
    )

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="project_moves")
    source = models.ForeignKey(
        "telephony.LiveKitProject", on_delete=models.PROTECT, related_name="moves_out"
    )
    target = models.ForeignKey(
        "telephony.LiveKitProject", on_delete=models.PROTECT, related_name="moves_in"
    )
    state = models.CharField(max_length=20, choices=State.choices, default=State.PROVISIONING)
    # What the source project holds, kept until it is deleted (or restored on a roll-back).
    source_trunk_id = models.CharField(max_length=64, blank=True)
    source_rule_id = models.CharField(max_length=64, blank=True)
    source_trunk_hash = models.CharField(max_length=64, blank=True)
    source_rule_hash = models.CharField(max_length=64, blank=True)
    # The source's other lines' rules (LineRule records: line, rule_id, applied_hash,
    # numbers), kept the same way (telephony/move_lines.py, decision 0130).
    source_lines = models.JSONField(default=list, blank=True)
    # Set when the move is called off while LiveKit is being written for the clinic: the
    # roll-back completes at the next step (advance) once the lease is free.
    call_off_reason = models.CharField(max_length=500, blank=True)
    detail = models.TextField(blank=True)
    log = models.JSONField(default=list, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-created_at"]
        verbose_name = "move between LiveKit projects"
        verbose_name_plural = "moves between LiveKit projects"
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["clinic"],
                condition=Q(
                    state__in=["provisioning", "verifying", "awaiting_carrier", "deleting"]
                ),
                name="one_open_project_move_per_clinic",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.clinic} from {self.source} to {self.target}: {self.state}"

    @property
    def open(self) -> bool:
        return self.state in self.OPEN
