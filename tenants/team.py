"""Teams: invitations, roles, removing members and leaving, and the last-owner rule.

Every service takes keyword arguments, checks the acting user's role itself (the views
check it too, but a service must be safe for any caller), validates with full_clean and
writes inside one transaction. Refusals are TeamErrors: ValidationErrors whose messages are
sentences for the person, keyed by the input field they are about.

The last-owner rule ("a clinic always keeps at least one owner") spans rows, so every
change that could take away an owner first locks all of the clinic's memberships
(SELECT ... FOR UPDATE, in primary-key order so two callers never deadlock). Two owners
demoting or removing each other, or both leaving, at the same moment are then serialised:
the second one counts the owners again after the first has committed.

Invitation links carry 32 random bytes; only their SHA-256 digest is stored. We chose this
over a signed token (django.core.signing) because an invitation needs a row anyway (once
only, revocable, listed on the team page), so the row can carry the expiry too; the link
then holds no data, does not break when SECRET_KEY rotates, and a leaked database or backup
does not contain a single usable link.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import dateformat, timezone

from tenants.access import MANAGE, role_allows
from tenants.models import Clinic, Invitation, Membership, User
from tenants.text import one_line

Role = Membership.Role
TOKEN_BYTES = 32
logger = logging.getLogger(__name__)

INVALID_LINK = (
    "This invitation link is not valid. Check that you opened the whole link from the "
    "email, or ask the clinic's owner to invite you again."
)
REVOKED_LINK = (
    "This invitation was withdrawn by the clinic. Ask the clinic's owner for a new one if "
    "you still need access."
)
USED_LINK = "This invitation has already been used. Sign in to reach the clinic."
EXPIRED_LINK = "This invitation expired on {date}. Ask the clinic's owner to send you a new one."
WRONG_ACCOUNT = (
    "This invitation is for {invited}, but you are signed in as {current}. Sign out and open "
    "the link again, or ask the clinic's owner to invite {current}."
)
ACCOUNT_EXISTS = (
    "An account for {email} already exists. Sign in as {email} and open the link again to accept."
)
LAST_OWNER_LEAVE = (
    "You are the last owner of {clinic}, so you cannot leave it. Make another member an "
    "owner first, or offboard the clinic."
)
LAST_OWNER_REMOVE = (
    "{email} is the last owner of {clinic} and cannot be removed. Make another member an "
    "owner first."
)
LAST_OWNER_DEMOTE = (
    "{email} is the last owner of {clinic}. Make another member an owner before changing this role."
)
NOT_ALLOWED = "Only the clinic's owners can manage its team."


class TeamError(ValidationError):
    """A team rule refused the change; every message is a sentence for the person."""


# --- helpers ------------------------------------------------------------------------------


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _lock_memberships(clinic: Clinic) -> list[Membership]:
    return list(
        Membership.objects.select_for_update(of=("self",))
        .select_related("user")
        .filter(clinic=clinic)
        .order_by("pk")
    )


def _member(members: list[Membership], user_id: object) -> Membership | None:
    return next((m for m in members if m.user_id == user_id), None)


def _owners(members: list[Membership]) -> int:
    return sum(1 for m in members if m.role == Role.OWNER)


def _require_manager(members: list[Membership], actor: User) -> None:
    """The actor's role as it is now, under the lock (not as it was when the page loaded)."""
    mine = _member(members, actor.pk)
    if mine is None or not role_allows(mine.role, MANAGE):
        raise PermissionDenied(NOT_ALLOWED)


def _full_clean(
    obj: Invitation | Membership, *, validate_unique: bool = True, validate_constraints: bool = True
) -> None:
    try:
        obj.full_clean(validate_unique=validate_unique, validate_constraints=validate_constraints)
    except ValidationError as exc:
        raise TeamError(exc.message_dict) from None


def _clean_role(role: str) -> str:
    if role not in Role.values:
        raise TeamError({"role": "Choose one of owner, admin or viewer."})
    return role


def _when(invitation: Invitation, fmt: str) -> str:
    return dateformat.format(timezone.localtime(invitation.expires_at), fmt)


def invitation_link(token: str) -> str:
    path = reverse("tenants:invitation", args=[token])
    return settings.PUBLIC_BASE_URL.rstrip("/") + path


# --- invitations --------------------------------------------------------------------------


def invitation_create(*, clinic: Clinic, actor: User, email: str, role: str) -> Invitation:
    """Invite `email` to `clinic` with `role` (owners only) and email the link on commit.

    A pending invitation for the same address is refused (revoke it to send a new link);
    one that has expired is retired here, so an expired link never blocks a new one.
    """
    email = (email or "").strip().lower()
    if not email:
        raise TeamError({"email": "Enter the email address of the person to invite."})
    role = _clean_role(role)
    now = timezone.now()
    with transaction.atomic():
        members = _lock_memberships(clinic)
        _require_manager(members, actor)
        if any(m.user.email.lower() == email for m in members):
            raise TeamError({"email": f"{email} is already a member of {clinic.name}."})
        stale = Invitation.objects.for_clinic(clinic).open().filter(email__iexact=email)
        stale.filter(expires_at__lte=now).update(revoked_at=now)
        if stale.filter(expires_at__gt=now).exists():
            raise TeamError({"email": _already_invited(email)})
        token = secrets.token_urlsafe(TOKEN_BYTES)
        invitation = Invitation(
            clinic=clinic,
            email=email,
            role=role,
            invited_by=actor,
            token_hash=token_digest(token),
            expires_at=now + timedelta(seconds=settings.INVITATION_MAX_AGE_SECONDS),
        )
        _full_clean(invitation, validate_constraints=False)  # the open-invite rule: below
        try:
            with transaction.atomic():
                invitation.save()
        except IntegrityError:  # a concurrent invitation to the same address won
            raise TeamError({"email": _already_invited(email)}) from None
        transaction.on_commit(lambda: send_invitation_email(invitation, token), robust=True)
    return invitation


def _already_invited(email: str) -> str:
    return (
        f"{email} already has an invitation waiting. Revoke it first if you want to send a "
        "new link."
    )


def send_invitation_email(invitation: Invitation, token: str) -> bool:
    """Send the link; record on the invitation whether it went out. Never raises: a failure
    shows on the team page and in the API (`email_status: "failed"`) with a way to re-send."""
    inviter = invitation.invited_by.email if invitation.invited_by else "The clinic's owner"
    expires = _when(invitation, "F j, Y, H:i T")
    clinic_name = one_line(invitation.clinic.name)
    try:
        send_mail(
            f"Join {clinic_name} on Switchboard",
            f"{inviter} invited you to join {clinic_name} on Switchboard as "
            f"{invitation.get_role_display().lower()}.\n\nOpen this link to accept:\n\n"
            f"{invitation_link(token)}\n\nThe link works once and expires on {expires}. "
            "If you did not expect this email, you can ignore it.",
            None,
            [invitation.email],
        )
    except Exception:
        logger.exception("invitation %s: the email could not be sent", invitation.pk)
        Invitation.objects.filter(pk=invitation.pk).update(email_failed_at=timezone.now())
        invitation.email_failed_at = timezone.now()
        return False
    Invitation.objects.filter(pk=invitation.pk).update(
        email_sent_at=timezone.now(), email_failed_at=None
    )
    invitation.email_sent_at, invitation.email_failed_at = timezone.now(), None
    return True


def invitation_resend(*, invitation: Invitation, actor: User) -> Invitation:
    """Send a pending invitation again with a new link (owners only). The old link stops
    working and the new one gets a full validity period."""
    with transaction.atomic():
        members = _lock_memberships(invitation.clinic)
        _require_manager(members, actor)
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if invitation.accepted_at is not None:
            raise TeamError(f"{invitation.email} has already accepted this invitation.")
        if invitation.revoked_at is not None:
            raise TeamError("This invitation was revoked; invite the person again instead.")
        token = secrets.token_urlsafe(TOKEN_BYTES)
        invitation.token_hash = token_digest(token)
        invitation.expires_at = timezone.now() + timedelta(
            seconds=settings.INVITATION_MAX_AGE_SECONDS
        )
        invitation.email_sent_at = invitation.email_failed_at = None
        invitation.save(
            update_fields=["token_hash", "expires_at", "email_sent_at", "email_failed_at"]
        )
        transaction.on_commit(lambda: send_invitation_email(invitation, token), robust=True)
    return invitation


def invitation_revoke(*, invitation: Invitation, actor: User) -> Invitation:
    with transaction.atomic():
        members = _lock_memberships(invitation.clinic)
        _require_manager(members, actor)
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if invitation.accepted_at is not None:
            raise TeamError(
                f"{invitation.email} has already accepted this invitation; remove the "
                "member instead."
            )
        if invitation.revoked_at is not None:
            raise TeamError("This invitation was already revoked.")
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
    return invitation


def invitation_for_token(token: str) -> Invitation | None:
    """The invitation a link points at, whatever its state (None for an unknown link)."""
    if not token or len(token) > 100:
        return None
    return (
        Invitation.objects.select_related("clinic", "invited_by")
        .filter(token_hash=token_digest(token))
        .first()
    )


def invitation_problem(invitation: Invitation | None) -> str | None:
    """Why the link cannot be used, as a sentence; None when it can."""
    if invitation is None or invitation.clinic.is_offboarded:
        return INVALID_LINK
    if invitation.accepted_at is not None:
        return USED_LINK
    if invitation.is_expired():  # before "revoked": expired invitations are retired that way
        return EXPIRED_LINK.format(date=_when(invitation, "F j, Y"))
    if invitation.revoked_at is not None:
        return REVOKED_LINK
    return None


def _locked_usable(token: str) -> Invitation:
    invitation = (
        Invitation.objects.select_for_update(of=("self",))
        .select_related("clinic")
        .filter(token_hash=token_digest(token or ""))
        .first()
    )
    problem = invitation_problem(invitation)
    if problem:
        raise TeamError({"token": problem})
    assert invitation is not None
    return invitation


def _join(invitation: Invitation, user: User) -> Membership:
    """Make `user` a member with the invited role and spend the invitation."""
    now = timezone.now()
    members = _lock_memberships(invitation.clinic)
    membership = _member(members, user.pk)
    if membership is None:  # an existing member keeps their role: changing it is explicit
        membership = Membership(clinic=invitation.clinic, user=user, role=invitation.role)
        _full_clean(membership, validate_unique=False)
        membership.save()
    invitation.accepted_at = now
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    if not user.email_verified:  # the link reached this mailbox: that is the proof
        user.email_verified_at = now
        user.save(update_fields=["email_verified_at"])
    return membership


def invitation_accept(*, token: str, user: User) -> Membership:
    """Accept as the signed-in `user`, whose email must be the invited one."""
    with transaction.atomic():
        invitation = _locked_usable(token)
        if user.email.lower() != invitation.email.lower():
            message = WRONG_ACCOUNT.format(invited=invitation.email, current=user.email)
            raise TeamError({"token": message})
        return _join(invitation, user)


def invitation_accept_new_user(*, token: str, password: str) -> tuple[User, Membership]:
    """Accept by creating the invited person's account with `password`."""
    with transaction.atomic():
        invitation = _locked_usable(token)
        email = invitation.email
        if User.objects.filter(email__iexact=email).exists():
            raise TeamError({"email": ACCOUNT_EXISTS.format(email=email)})
        try:
            validate_password(password or "", user=User(email=email))
        except ValidationError as exc:
            raise TeamError({"password": exc.messages}) from None
        try:
            with transaction.atomic():
                user = User.objects.create_user(email=email, password=password)
        except IntegrityError:  # the same address signed up a moment ago
            raise TeamError({"email": ACCOUNT_EXISTS.format(email=email)}) from None
        return user, _join(invitation, user)


# --- members ------------------------------------------------------------------------------


def member_change_role(*, membership: Membership, actor: User, role: str) -> Membership:
    """Give a member another role (owners only); the last owner cannot be demoted."""
    role = _clean_role(role)
    clinic = membership.clinic
    with transaction.atomic():
        members = _lock_memberships(clinic)
        _require_manager(members, actor)
        target = _member(members, membership.user_id)
        if target is None:
            raise TeamError({"user": "This person is no longer a member of the clinic."})
        if target.role == role:
            return target
        if target.role == Role.OWNER and _owners(members) == 1:
            message = LAST_OWNER_DEMOTE.format(email=target.user.email, clinic=clinic.name)
            raise TeamError({"role": message})
        target.role = role
        _full_clean(target, validate_unique=False)
        target.save(update_fields=["role"])
    return target


def member_remove(*, membership: Membership, actor: User) -> None:
    """Remove a member (owners only), or leave (anyone, for their own membership).

    The last owner can do neither: a clinic without an owner could never be managed or
    offboarded by its own people again.
    """
    clinic = membership.clinic
    leaving = membership.user_id == actor.pk
    with transaction.atomic():
        members = _lock_memberships(clinic)
        if not leaving:
            _require_manager(members, actor)
        target = _member(members, membership.user_id)
        if target is None:
            raise TeamError({"user": "This person is no longer a member of the clinic."})
        if target.role == Role.OWNER and _owners(members) == 1:
            template = LAST_OWNER_LEAVE if leaving else LAST_OWNER_REMOVE
            raise TeamError({"user": template.format(email=target.user.email, clinic=clinic.name)})
        target.delete()


def member_leave(*, clinic: Clinic, user: User) -> None:
    membership = Membership.objects.filter(clinic=clinic, user=user).first()
    if membership is None:
        raise TeamError({"user": "You are no longer a member of this clinic."})
    member_remove(membership=membership, actor=user)
