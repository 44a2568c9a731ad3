"""The one place that resolves which clinic a request may touch.

Outsiders (and unknown slugs) get 404, so a clinic's existence is never confirmed;
members without the needed role get 403. Web views and the API both go through here.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.http import Http404
from rest_framework.permissions import BasePermission

from tenants.models import Clinic, Membership

Role = Membership.Role
# What each action needs: viewers read, admins edit and go live, owners manage members.
READ, EDIT, MANAGE = "read", "edit", "manage"
_ALLOWED = {
    READ: {Role.OWNER, Role.ADMIN, Role.VIEWER},
    EDIT: {Role.OWNER, Role.ADMIN},
    MANAGE: {Role.OWNER},
}

# The roles matrix: every clinic action and the level it needs. Views and APIs name the
# level; this table is the one place that says which action is which, and docs/security.md
# renders it (tests/tenants/test_team_matrix.py checks the two agree).
#
# Only owners manage the team, admins included: who may read a clinic's calls and settings
# is the owner's decision, so an admin cannot widen that circle even with viewers. Leaving
# needs nothing beyond membership (the last owner cannot; see tenants.team).
ACTIONS: dict[str, str] = {
    "see the clinic, its settings, status and team": READ,
    "edit numbers, carrier and receptionist settings": EDIT,
    "go live, retry provisioning": EDIT,
    "see calls: outcome, summary, masked caller; export them": READ,
    "see callers' full numbers and call transcripts": EDIT,
    "see messages the receptionist took, callers masked": READ,
    "mark messages handled, choose whether each is emailed": EDIT,
    "set how long calls and transcripts are kept": MANAGE,
    "manage webhook endpoints and see their delivery logs": EDIT,
    "invite members, revoke invitations": MANAGE,
    "change a member's role, remove a member": MANAGE,
    "see the audit log and export it": EDIT,
    "require two-factor sign-in for the whole team": MANAGE,
    "leave the clinic": READ,
    "offboard the clinic": MANAGE,
}


def role_allows(role: str, need: str) -> bool:
    return role in _ALLOWED[need]


def require(membership: Membership, need: str) -> None:
    """403 unless the member's role reaches `need` (for checks made after resolving)."""
    if not role_allows(membership.role, need):
        raise PermissionDenied("Your role in this clinic does not allow this.")


def get_clinic_for_user(user: Any, slug: str, *, need: str = READ) -> tuple[Clinic, Membership]:
    if not getattr(user, "is_authenticated", False):
        raise Http404("No such clinic.")
    membership = (
        Membership.objects.select_related(
            "clinic", "clinic__two_factor_policy", "clinic__livekit_project"
        )
        .filter(user=user, clinic__slug=slug)
        .exclude(clinic__state=Clinic.State.OFFBOARDED)
        .first()
    )
    if membership is None:
        raise Http404("No such clinic.")
    require(membership, need)
    _require_second_factor(membership.clinic, user)
    return membership.clinic, membership


def _require_second_factor(clinic: Clinic, user: Any) -> None:
    """A clinic whose owner requires two-factor sign-in opens only to verified sessions
    (and to API tokens of enrolled users)."""
    from twofactor.exceptions import TwoFactorRequired
    from twofactor.services import is_verified

    try:
        required = clinic.two_factor_policy.required
    except ObjectDoesNotExist:
        return
    if required and not is_verified(user):
        raise TwoFactorRequired(
            f"{clinic.name} requires two-factor sign-in. Set it up on your account's "
            "two-factor page (/account/two-factor/), then sign in with a code."
        )


class ClinicPermission(BasePermission):
    """DRF: resolve the clinic from the URL's `slug`; safe methods read, others edit.

    Views may set `clinic_permission` to MANAGE for owner-only actions, or to a dict from
    HTTP method to level when their methods differ.
    """

    def has_permission(self, request: Any, view: Any) -> bool:
        slug = view.kwargs.get("slug")
        if slug is None:
            return True
        need = getattr(view, "clinic_permission", None)
        if isinstance(need, dict):
            need = need.get(request.method)
        if need is None:
            need = READ if request.method in ("GET", "HEAD", "OPTIONS") else EDIT
        clinic, membership = get_clinic_for_user(request.user, slug, need=need)
        request.clinic = clinic
        request.membership = membership
        return True
