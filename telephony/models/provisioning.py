"""Provisioning state: how far reconcile has brought each clinic's LiveKit objects, the
events on the way, the drift scan's findings and objects left behind upstream."""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models

from telephony.models.setup import ClinicScopedManager
from tenants.models import Clinic


class Provisioning(models.Model):
    """The clinic's LiveKit objects and how far reconcile has brought them.

    `generation` is bumped in the same transaction as every change LiveKit must follow;
    reconcile sets `observed_generation` when LiveKit holds that generation.
    """

    class State(models.TextChoices):
        NEW = "new", "Not live yet"
        PENDING = "pending", "Pending"
        PROVISIONING = "provisioning", "Provisioning"
        ACTIVE = "active", "Active"
        RETRYING = "retrying", "Retrying"
        FAILED = "failed", "Failed"
        DEPROVISIONING = "deprovisioning", "Deprovisioning"
        DEPROVISIONED = "deprovisioned", "Deprovisioned"

    clinic = models.OneToOneField(Clinic, on_delete=models.CASCADE, related_name="provisioning")
    generation = models.PositiveBigIntegerField(default=0)
    observed_generation = models.PositiveBigIntegerField(default=0)
    state = models.CharField(max_length=16, choices=State.choices, default=State.NEW)
    trunk_id = models.CharField(max_length=64, blank=True, db_index=True)
    dispatch_rule_id = models.CharField(max_length=64, blank=True, db_index=True)
    # Create intents: written and committed before a create call, cleared when its outcome
    # is known. An intent found at the start of a run means "the last create may have
    # succeeded": observe and adopt before creating again.
    trunk_intent = models.UUIDField(null=True, blank=True)
    trunk_intent_numbers = models.JSONField(default=list, blank=True)
    trunk_intent_at = models.DateTimeField(null=True, blank=True)
    rule_intent = models.UUIDField(null=True, blank=True)
    rule_intent_at = models.DateTimeField(null=True, blank=True)
    # HMAC of the spec last written upstream: an unchanged spec needs no call.
    trunk_applied_hash = models.CharField(max_length=64, blank=True)
    rule_applied_hash = models.CharField(max_length=64, blank=True)
    # The clinic's carrier trunk (Twilio Elastic SIP trunk / Telnyx FQDN connection) when a
    # carrier account is connected (telephony/provisioning/carrier_kind.py, decision 0080).
    carrier_trunk_id = models.CharField(max_length=64, blank=True)
    carrier_applied_hash = models.CharField(max_length=64, blank=True)
    # Where the carrier trunk sends calls, as last applied there (its origination, as the
    # carrier spells it): a move's carrier step compares it with the target (decision 0163).
    carrier_applied_origination = models.CharField(
        max_length=300, blank=True, default="", db_default=""
    )
    carrier_intent = models.UUIDField(null=True, blank=True)
    carrier_intent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # Runs that ended on LiveKit's rate limit (a 429, or our limiter's refusal): they spend
    # no attempt, up to PROVISIONING_MAX_RATE_LIMITED_RUNS (decision 0160).
    rate_limited_runs = models.PositiveIntegerField(default=0, db_default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_error = models.TextField(blank=True)
    last_error_code = models.CharField(max_length=40, blank=True)
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    requested_at = models.DateTimeField(null=True, blank=True)
    converged_at = models.DateTimeField(null=True, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ClinicScopedManager()

    class Meta:
        indexes: ClassVar = [models.Index(fields=["state", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"Provisioning of {self.clinic}: {self.state}"

    @property
    def converged(self) -> bool:
        return self.observed_generation >= self.generation


class LineRule(models.Model):
    """The record of one line's dispatch rule: a receptionist other than the clinic's first
    that has numbers gets a rule restricted to them (decision 0065); the first's trunk-wide
    rule is recorded on `Provisioning` (decision 0085).

    Keyed by the receptionist's id as text, with no foreign key: the record outlives a
    deleted receptionist until its rule is deleted upstream. `numbers` are the numbers the
    rule was last written with, so that a run knows which rules give numbers up (they are
    written before the rules that take numbers on). A row with no rule and no intent is
    deleted.
    """

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="line_rules")
    line = models.CharField(max_length=20)
    rule_id = models.CharField(max_length=64, blank=True, db_index=True)
    applied_hash = models.CharField(max_length=64, blank=True)
    numbers = models.JSONField(default=list, blank=True)
    intent = models.UUIDField(null=True, blank=True)
    intent_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ClinicScopedManager()

    class Meta:
        ordering: ClassVar = ["clinic", "line"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["clinic", "line"], name="linerule_one_per_line")
        ]

    def __str__(self) -> str:
        return f"Line {self.line} of {self.clinic}: {self.rule_id or 'no rule'}"


class ProvisioningEvent(models.Model):
    """Append-only log of what reconcile did, one row per step (and per operator action)."""

    class Outcome(models.TextChoices):
        OK = "ok", "OK"
        ERROR = "error", "Error"
        SKIPPED = "skipped", "Skipped"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="provisioning_events")
    generation = models.PositiveBigIntegerField(default=0)
    action = models.CharField(max_length=40)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.OK)
    detail = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = ClinicScopedManager()

    class Meta:
        ordering: ClassVar = ["-at"]
        indexes: ClassVar = [models.Index(fields=["clinic", "-at"])]

    def __str__(self) -> str:
        return f"{self.action} {self.outcome}"


class UpstreamStatus(models.Model):
    """One row (pk=1): LiveKit-wide conditions that concern every clinic.

    When LiveKit rejects the platform's credentials, provisioning stops calling for
    everyone until the configuration (URL, key or secret) changes: the fingerprint of the
    rejected configuration is kept here and compared with the running one.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    auth_failed_fingerprint = models.CharField(max_length=64, blank=True)
    auth_failed_at = models.DateTimeField(null=True, blank=True)
    auth_failed_detail = models.TextField(blank=True)
    last_drift_scan_at = models.DateTimeField(null=True, blank=True)
    last_drift_scan = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = "LiveKit status"
        verbose_name_plural = "LiveKit status"

    def __str__(self) -> str:
        return "LiveKit status"

    @classmethod
    def load(cls) -> UpstreamStatus:
        obj, _ = cls.objects.get_or_create(pk=1)
        return obj


class OrphanObject(models.Model):
    """A LiveKit object with our marker that no live clinic claims (seen by the drift scan)."""

    class Kind(models.TextChoices):
        TRUNK = "trunk", "Inbound trunk"
        RULE = "rule", "Dispatch rule"

    object_id = models.CharField(max_length=64, unique=True)
    # The LiveKit project it was seen in (no project: the default one, as for clinics).
    project = models.ForeignKey(
        "telephony.LiveKitProject",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="orphans",
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    clinic_ref = models.CharField(max_length=64, blank=True)
    name = models.CharField(max_length=200, blank=True)
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-last_seen_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_id}"
