"""LiveKit projects: where a clinic's trunk, dispatch rule and calls live.

One deployment may use several LiveKit projects (regions, capacity, a clinic group's own
project). Each clinic belongs to one (`Clinic.livekit_project`; no project recorded means the
project named `default`). The project named `default` stands for the environment's
LIVEKIT_* settings: its URL, key, secret and SIP URI are read from settings, never stored
(docs/decisions/0070). Every other project keeps its API secret encrypted at rest with
FIELD_ENCRYPTION_KEYS; the secret is write-only (no page, command or API shows it back).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models

from telephony.crypto import EncryptedTextField
from telephony.validators import validate_sip_uri

DEFAULT_PROJECT = "default"

project_name_validator = RegexValidator(
    r"^[a-z0-9][a-z0-9-]{0,39}$",
    "Use 1 to 40 lowercase letters, digits or hyphens, starting with a letter or digit.",
)
region_validator = RegexValidator(
    r"^[a-z0-9][a-z0-9-]{0,39}$|^$",
    "Use lowercase letters, digits or hyphens (e.g. eu, us-east), or leave it empty.",
)


@dataclass(frozen=True)
class ProjectConfig:
    """What it takes to talk to one project: resolved from settings for `default`."""

    name: str
    url: str
    api_key: str
    api_secret: str = field(repr=False)
    sip_uri: str
    webhook_key: str
    webhook_secret: str = field(repr=False)


class LiveKitProject(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        DRAINING = "draining", "Draining (clinics being moved out)"
        RETIRED = "retired", "Retired"

    name = models.CharField(max_length=40, unique=True, validators=[project_name_validator])
    region = models.CharField(
        max_length=40,
        blank=True,
        validators=[region_validator],
        help_text="A label clinics choose at signup when more than one region is open (eu, us).",
    )
    # Blank for the environment's project (`default`): settings hold its values.
    url = models.URLField("server URL", max_length=300, blank=True)
    api_key = models.CharField("API key", max_length=200, blank=True)
    api_secret = EncryptedTextField("API secret", blank=True)
    sip_uri = models.CharField(
        "SIP URI", max_length=300, blank=True, help_text="What clinics give their carrier."
    )
    # A second place the carrier tries when the first does not answer (Twilio: a second
    # origination URL with a lower priority; Telnyx: the connection's secondary FQDN).
    sip_fallback_uri = models.CharField(
        "fallback SIP URI",
        max_length=300,
        blank=True,
        validators=[validate_sip_uri],
        help_text="Optional: where carriers set up by Switchboard send calls when the SIP URI "
        "does not answer (e.g. another region's SIP URI of this project).",
    )
    webhook_key = models.CharField(
        "webhook API key",
        max_length=200,
        blank=True,
        help_text="The API key LiveKit signs this project's webhooks with (empty: the API key).",
    )
    webhook_secret = EncryptedTextField(
        "webhook API secret", blank=True, help_text="Its secret (empty: the API secret)."
    )
    capacity_weight = models.PositiveIntegerField(
        default=1,
        validators=[MinValueValidator(1)],
        help_text="Share of new clinics among the open projects of a region (2 takes twice 1's).",
    )
    rate_limit_per_minute = models.PositiveIntegerField(
        "API requests per minute",
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="This project's LiveKit API rate limit, as Switchboard paces its calls. Empty: "
        "LIVEKIT_RATE_LIMIT_PER_MINUTE (LiveKit's documented 1,000).",
    )
    accepting_new_clinics = models.BooleanField(default=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    # A clinic's own project (decision 0132): private to that clinic, never placed into,
    # entered and left by moves. Null for the platform's projects.
    owner_clinic = models.OneToOneField(
        "tenants.Clinic",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="own_livekit_project",
        editable=False,
        help_text="The clinic that brought this project (its own; no other clinic uses it).",
    )
    from_environment = models.BooleanField(
        default=False,
        editable=False,
        help_text="URL, key, secret and SIP URI come from the LIVEKIT_* settings.",
    )
    # This project's credentials circuit (the default project's is UpstreamStatus, as before)
    # and its last drift scan (telephony.provisioning.circuit, .drift).
    auth_failed_fingerprint = models.CharField(max_length=64, blank=True, editable=False)
    auth_failed_at = models.DateTimeField(null=True, blank=True, editable=False)
    auth_failed_detail = models.TextField(blank=True, editable=False)
    last_drift_scan_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_drift_scan = models.JSONField(default=dict, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar = ["name"]
        verbose_name = "LiveKit project"
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(capacity_weight__gte=1), name="livekit_project_weight_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(rate_limit_per_minute__isnull=True)
                | models.Q(rate_limit_per_minute__gte=1),
                name="livekit_project_rate_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:  # never the secrets
        return f"<LiveKitProject {self.name!r} region={self.region!r}>"

    @property
    def is_default(self) -> bool:
        return self.name == DEFAULT_PROJECT

    @property
    def open(self) -> bool:
        """Takes new clinics at signup (a clinic's own project never does)."""
        return (
            self.accepting_new_clinics
            and self.status == self.Status.ACTIVE
            and self.owner_clinic_id is None
        )

    def config(self) -> ProjectConfig:
        if self.from_environment:
            url, key, secret = (
                settings.LIVEKIT_URL,
                settings.LIVEKIT_API_KEY,
                settings.LIVEKIT_API_SECRET,
            )
            sip_uri = settings.LIVEKIT_SIP_URI
        else:
            url, key, secret, sip_uri = self.url, self.api_key, self.api_secret, self.sip_uri
        return ProjectConfig(
            name=self.name,
            url=url,
            api_key=key,
            api_secret=secret,
            sip_uri=sip_uri,
            webhook_key=self.webhook_key or key,
            webhook_secret=self.webhook_secret or secret,
        )

    @property
    def effective_sip_uri(self) -> str:
        return settings.LIVEKIT_SIP_URI if self.from_environment else self.sip_uri

    @property
    def effective_sip_fallback_uri(self) -> str:
        """LIVEKIT_SIP_FALLBACK_URI for the environment's project, else the stored one."""
        if self.from_environment:
            return str(getattr(settings, "LIVEKIT_SIP_FALLBACK_URI", "") or "")
        return self.sip_fallback_uri

    @property
    def effective_rate_limit_per_minute(self) -> float:
        """Its own request rate, or LIVEKIT_RATE_LIMIT_PER_MINUTE (decision 0162)."""
        return float(self.rate_limit_per_minute or settings.LIVEKIT_RATE_LIMIT_PER_MINUTE)

    @property
    def effective_url(self) -> str:
        return settings.LIVEKIT_URL if self.from_environment else self.url

    @property
    def effective_api_key(self) -> str:
        return settings.LIVEKIT_API_KEY if self.from_environment else self.api_key
