"""Users, clinics (the tenant) and memberships."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower

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
