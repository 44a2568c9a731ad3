"""Users, clinics (the tenant) and memberships."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

ROOM_PREFIX_RE = r"^[a-z0-9-]{3,40}$"

room_prefix_validator = RegexValidator(
    ROOM_PREFIX_RE,
    "Use 3 to 40 lowercase letters, digits or hyphens (no underscores: LiveKit joins the "
    "prefix and the caller with '_').",
)


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create(self, email: str, password: str | None, **extra: Any) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create(email, password, **extra)


class User(AbstractUser):
    """A person. Signs in with the email address; belongs to clinics through memberships."""

    username = None  # type: ignore[assignment]
    email = models.EmailField("email address", unique=True)
    email_verified_at = models.DateTimeField(null=True, blank=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects = UserManager()  # type: ignore[assignment,misc]

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None


class ClinicQuerySet(models.QuerySet["Clinic"]):
    def for_user(self, user: User) -> ClinicQuerySet:
        return self.filter(memberships__user=user)


class Clinic(models.Model):
    """The tenant. Everything a clinic owns has a direct foreign key to it."""

    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        LIVE = "live", "Live"
        SUSPENDED = "suspended", "Suspended"
        OFFBOARDED = "offboarded", "Offboarded"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=50, unique=True)
    room_prefix = models.CharField(max_length=40, unique=True, validators=[room_prefix_validator])
    timezone = models.CharField(max_length=64, default="UTC")
    state = models.CharField(max_length=16, choices=State.choices, default=State.DRAFT)
    # The LiveKit project that holds the clinic's objects and calls, chosen at signup
    # (telephony.projects.place); none recorded means the project named `default`.
    livekit_project = models.ForeignKey(
        "telephony.LiveKitProject",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="clinics",
        verbose_name="LiveKit project",
    )
    # Staff allow a clinic to bring its own LiveKit project (decision 0132): there is no
    # plan model, so the allowance is this flag, set on the clinic's admin page.
    may_bring_livekit_project = models.BooleanField(
        "may bring its own LiveKit project",
        default=False,
        db_default=False,  # rows written by code that predates the field get False too
        help_text="The clinic's admins may connect a LiveKit project of their own "
        "(their plan includes it).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ClinicQuerySet.as_manager()

    class Meta:
        ordering: ClassVar = ["name"]
        # The staff console's two action levels (groups "support" and "operator",
        # tenants/migrations/0002): looking at the dry-run plan, and changing LiveKit.
        permissions: ClassVar = [
            ("view_provisioning_plan", "Can run the dry-run provisioning plan"),
            (
                "run_provisioning_actions",
                "Can re-provision, retry, suspend, resume and offboard clinics",
            ),
        ]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(room_prefix__regex=ROOM_PREFIX_RE),
                name="clinic_room_prefix_format",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_offboarded(self) -> bool:
        return self.state == self.State.OFFBOARDED


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Admin"
        VIEWER = "viewer", "Viewer"

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["clinic", "user"], name="membership_unique_pair"),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.clinic} ({self.role})"

    @property
    def can_edit(self) -> bool:
        return self.role in (self.Role.OWNER, self.Role.ADMIN)

    @property
    def can_manage(self) -> bool:
        return self.role == self.Role.OWNER


class InvitationQuerySet(models.QuerySet["Invitation"]):
    def for_clinic(self, clinic: Clinic) -> InvitationQuerySet:
        return self.filter(clinic=clinic)

    def open(self) -> InvitationQuerySet:
        """Neither accepted nor revoked (possibly expired: see `pending`)."""
        return self.filter(accepted_at__isnull=True, revoked_at__isnull=True)


class Invitation(models.Model):
    """An emailed invitation to join a clinic with a role.

    The link carries a random secret; only its SHA-256 digest is stored (`token_hash`), so a
    copy of the database cannot be used to join a clinic. Once, expiry and revocation are
    enforced here, in the row, not by the token itself.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(max_length=254)
    role = models.CharField(max_length=16, choices=Membership.Role.choices)
    invited_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    # The emailed link: when it went out, or when sending it failed (the last attempt wins).
    email_sent_at = models.DateTimeField(null=True, blank=True)
    email_failed_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering: ClassVar = ["-created_at"]
        constraints: ClassVar = [
            # One open invitation per person per clinic; accepted and revoked ones are history.
            models.UniqueConstraint(
                "clinic",
                Lower("email"),
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_one_open_per_email",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} to {self.clinic} ({self.role})"

    @property
    def is_open(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None

    def is_expired(self, now: Any = None) -> bool:
        return (now or timezone.now()) >= self.expires_at

    @property
    def status(self) -> str:
        if self.accepted_at is not None:
            return "accepted"
        if self.is_expired():
            return "expired"
        return "revoked" if self.revoked_at is not None else "pending"

    @property
    def email_status(self) -> str:
        """ "failed" when the last email could not be sent, "sent" once it went out, and
        "sending" until then."""
        if self.email_failed_at is not None:
            return "failed"
        return "sent" if self.email_sent_at is not None else "sending"


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def active(self, now: Any = None) -> ApiTokenQuerySet:
        now = now or timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ApiToken(models.Model):
    """A person's API token for scripts (`Authorization: Token <token>`). Only its SHA-256 is
    stored, as for agent tokens (telephony.AgentToken): the secret has 256 random bits, so a
    fast hash is enough, and a copy of the database holds no usable token. `prefix` lets the
    owner and staff tell tokens apart (decision 0020)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=16, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering: ClassVar = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= timezone.now():
            return "expired"
        return "active"
