"""Writes for users, clinics and memberships."""

from __future__ import annotations

import re
import uuid
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import get_random_string
from django.utils.text import slugify

from telephony.projects import place
from telephony.services import telephony_setup_defaults
from tenants.models import Clinic, Membership, User
from tenants.text import validate_display_name
from tenants.timezones import UTC, canonical

VERIFY_SALT = "switchboard.verify-email"
VERIFY_MAX_AGE = 3 * 24 * 3600
MAX_CLINIC_NAME = 120


def _lock_prefix_namespace() -> None:
    """Serialise slug and prefix assignment, so a check and the insert that follows it are
    never interleaved with another signup or prefix change (no IntegrityError, no 500)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [0x5B0A_2D])


# Prefixes the platform hands out when a name gives nothing usable start with this; a clinic
# may not choose one, so the fallback below is always free (decision 0021).
PLATFORM_PREFIX = "sb-"
# Words a clinic may not take as its whole prefix: they would read as the platform's own
# rooms in LiveKit, logs and webhooks.
RESERVED_PREFIXES = frozenset(
    {
        "admin", "agent", "api", "call", "calls", "clinic", "default", "emulator",
        "livekit", "none", "null", "operator", "platform", "room", "rooms", "root",
        "sip", "staff", "support", "switchboard", "system", "test", "trunk", "www",
    }
)  # fmt: skip
USER_PREFIX_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
MIN_USER_PREFIX, MAX_USER_PREFIX = 3, 40


def _base_prefix(name: str) -> str:
    base = re.sub(r"[^a-z0-9-]+", "-", slugify(name).lower()).strip("-")
    base = re.sub(r"-{2,}", "-", base)[:30].strip("-")
    if len(base) < 3 or base in RESERVED_PREFIXES:
        base = f"clinic-{base}".strip("-")
    if base.startswith(PLATFORM_PREFIX):
        base = f"clinic-{base}"
    return base


def prefix_conflict(prefix: str, *, exclude: Clinic | None = None) -> Clinic | None:
    """The clinic that already has exactly this prefix.

    Room names are "<prefix>_<caller>_<random>" and no prefix contains "_", so a room belongs
    to the clinic whose whole prefix is the part before the first "_": `zqx` and
    `zqx-family-dental-k3f9` never clash (decision 0021).
    """
    qs = Clinic.objects.filter(room_prefix=prefix)
    if exclude is not None:
        qs = qs.exclude(pk=exclude.pk)
    return qs.first()


def check_chosen_prefix(prefix: str) -> None:
    """What a clinic may choose as its room prefix; raises a ValidationError naming the field."""
    sentence = (
        f"Use {MIN_USER_PREFIX} to {MAX_USER_PREFIX} lowercase letters, digits or single "
        "hyphens, starting and ending with a letter or digit (no underscores: LiveKit joins "
        "the prefix and the caller with '_'), e.g. bright-smile."
    )
    if not (MIN_USER_PREFIX <= len(prefix) <= MAX_USER_PREFIX) or not USER_PREFIX_RE.match(prefix):
        raise ValidationError({"room_prefix": sentence})
    if prefix in RESERVED_PREFIXES or prefix.startswith(PLATFORM_PREFIX):
        raise ValidationError(
            {
                "room_prefix": f"'{prefix}' is reserved for the platform; choose another, "
                "e.g. your clinic's name."
            }
        )


def _taken(candidate: str) -> bool:
    return Clinic.objects.filter(Q(room_prefix=candidate) | Q(slug=candidate)).exists()


def _free_prefix(name: str, clinic_id: uuid.UUID) -> str:
    """The clinic's name plus a short random tail, or, if every try is taken, "sb-" and the
    clinic's own id: a clinic cannot choose a "sb-" prefix and ids are unique, so that one is
    always free and allocation never fails a signup."""
    base = _base_prefix(name)[:34].strip("-")
    for _ in range(20):
        tail = get_random_string(4, allowed_chars="abcdefghjkmnpqrstuvwxyz23456789")
        candidate = f"{base}-{tail}"
        if not _taken(candidate):
            return candidate
    return f"{PLATFORM_PREFIX}{clinic_id.hex}"


def _zone(timezone_name: object) -> str:
    zone = canonical(timezone_name)
    if zone is None:
        raise ValidationError(
            {"timezone": "Choose a time zone from the list, e.g. America/New_York."}
        )
    return zone


def clinic_create(
    *, owner: User, name: str, timezone_name: str = "UTC", region: str | None = None
) -> Clinic:
    """A draft clinic owned by `owner`, placed in a LiveKit project of `region` (any when
    None; telephony.projects.place). `timezone_name` may be an alias (US/Eastern); the
    canonical zone is stored."""
    timezone_name = _zone(timezone_name)
    name = (name or "").strip()
    if not name:
        raise ValidationError({"clinic_name": "Enter the clinic's name."})
    if len(name) > MAX_CLINIC_NAME:
        raise ValidationError(
            {"clinic_name": f"Use at most {MAX_CLINIC_NAME} characters for the clinic's name."}
        )
    validate_display_name(name, field="clinic_name")
    with transaction.atomic():
        _lock_prefix_namespace()
        clinic_id = uuid.uuid4()
        prefix = _free_prefix(name, clinic_id)
        clinic = Clinic(
            id=clinic_id,
            name=name,
            slug=prefix,
            room_prefix=prefix,
            timezone=timezone_name,
            livekit_project=place(region),
        )
        clinic.full_clean()
        clinic.save()
        Membership.objects.create(clinic=clinic, user=owner, role=Membership.Role.OWNER)
        telephony_setup_defaults(clinic=clinic)
    return clinic


def clinic_update(
    *,
    clinic: Clinic,
    name: str | None = None,
    timezone_name: str | None = None,
    room_prefix: str | None = None,
) -> Clinic:
    from telephony.services import request_provisioning

    with transaction.atomic():
        _lock_prefix_namespace()
        if name is not None:
            validate_display_name(name, field="name")
            clinic.name = name.strip()
            if not clinic.name:
                raise ValidationError({"name": "Enter the clinic's name."})
        if timezone_name is not None:
            clinic.timezone = _zone(timezone_name)
        prefix_changed = room_prefix is not None and room_prefix != clinic.room_prefix
        if prefix_changed:
            assert room_prefix is not None
            check_chosen_prefix(room_prefix)
            if prefix_conflict(room_prefix, exclude=clinic) is not None:
                raise ValidationError(
                    {"room_prefix": "Another clinic has this room prefix; choose a different one."}
                )
            clinic.room_prefix = room_prefix
        clinic.full_clean(validate_unique=True)
        clinic.save()
        if prefix_changed:
            request_provisioning(clinic, reason=f"room prefix changed to {room_prefix}")
    return clinic


def user_signup(
    *,
    email: str,
    password: str,
    clinic_name: str,
    timezone_name: str = "",
    region: str | None = None,
) -> tuple[User, Clinic]:
    """Create the user, their clinic (as owner) and send the verification email.

    `timezone_name` is what the browser reports; one we do not know falls back to UTC
    rather than failing the signup (it can be changed in the clinic's details)."""
    email = (email or "").strip().lower()
    errors: dict[str, Any] = {}
    if not email:
        errors["email"] = "Enter your email address."
    elif User.objects.filter(email__iexact=email).exists():
        errors["email"] = "An account with this email already exists; sign in instead."
    candidate = User(email=email)
    try:
        validate_password(password or "", user=candidate)
    except ValidationError as exc:
        errors["password"] = exc.messages
    try:
        place(region)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            user = User.objects.create_user(email=email, password=password)
            clinic = clinic_create(
                owner=user,
                name=clinic_name,
                timezone_name=canonical(timezone_name) or UTC,
                region=region,
            )
    except IntegrityError:
        raise ValidationError(
            {"email": "An account with this email already exists; sign in instead."}
        ) from None
    transaction.on_commit(lambda: send_verification_email(user), robust=True)
    return user, clinic


def verification_token(user: User) -> str:
    return signing.dumps({"u": user.pk, "e": user.email}, salt=VERIFY_SALT)


def send_verification_email(user: User) -> None:
    if user.email_verified:
        return
    link = settings.PUBLIC_BASE_URL.rstrip("/") + reverse(
        "tenants:verify_email", args=[verification_token(user)]
    )
    send_mail(
        "Confirm your email for Switchboard",
        f"Welcome to Switchboard.\n\nConfirm your email address to put your receptionist "
        f"live:\n\n{link}\n\nThe link is valid for 3 days.",
        None,
        [user.email],
    )


def user_verify_email(*, token: str) -> User:
    try:
        data = signing.loads(token, salt=VERIFY_SALT, max_age=VERIFY_MAX_AGE)
    except signing.SignatureExpired:
        raise ValidationError("This link has expired; sign in to get a new one.") from None
    except signing.BadSignature:
        raise ValidationError("This link is not valid.") from None
    user = User.objects.filter(pk=data.get("u"), email=data.get("e")).first()
    if user is None:
        raise ValidationError("This link is not valid.")
    if not user.email_verified:
        user.email_verified_at = timezone.now()
        user.save(update_fields=["email_verified_at"])
    return user
