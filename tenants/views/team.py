"""The team page (/clinics/<slug>/team/) and its POST-only actions, the invitation link
(/invitations/<token>/) and the change-password page (/account/password/).

Every member may look at the team; only owners see and may use the invite, role, remove
and revoke forms (the views check the role too: a hidden form is no protection). Leaving
is removing yourself, which any member may do, except the clinic's last owner.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tenants import team
from tenants.access import MANAGE, READ, get_clinic_for_user, require
from tenants.api_tokens import api_tokens_revoke_all
from tenants.forms import InvitationSignupForm, InviteForm, RoleForm, add_service_errors
from tenants.limits import invitation_limit
from tenants.models import Clinic, Invitation, Membership, User
from tenants.selectors import team_invitations, team_members
from tenants.views.common import current_user


def _render_team(
    request: HttpRequest,
    clinic: Clinic,
    membership: Membership,
    *,
    invite_form: Form | None = None,
    page_error: str = "",
) -> HttpResponse:
    failed = bool(page_error or (invite_form is not None and invite_form.errors))
    context = {
        "clinic": clinic,
        "membership": membership,
        "can_manage": membership.can_manage,
        "members": team_members(clinic=clinic),
        "invitations": team_invitations(clinic=clinic),
        "invite_form": invite_form or InviteForm(),
        "role_choices": Membership.Role.choices,
        "page_error": page_error,
    }
    return render(request, "tenants/team.html", context, status=400 if failed else 200)


def _back(clinic: Clinic) -> HttpResponse:
    return redirect("tenants:team", slug=clinic.slug)


@login_required
@require_GET
def team_page(request: HttpRequest, slug: str) -> HttpResponse:
    clinic, membership = get_clinic_for_user(request.user, slug, need=READ)
    return _render_team(request, clinic, membership)


@login_required
@require_POST
def invite(request: HttpRequest, slug: str) -> HttpResponse:
    clinic, membership = get_clinic_for_user(request.user, slug, need=MANAGE)
    form = InviteForm(request.POST)
    if form.is_valid():
        try:
            invitation = team.invitation_create(
                clinic=clinic, actor=current_user(request), **form.cleaned_data
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            # The email goes out on commit; if it fails the team page says so next to it.
            messages.success(request, f"Invitation for {invitation.email} created.")
            return _back(clinic)
    return _render_team(request, clinic, membership, invite_form=form)


def _target(clinic: Clinic, user_id: int) -> Membership:
    return get_object_or_404(
        Membership.objects.select_related("user", "clinic"), clinic=clinic, user_id=user_id
    )


@login_required
@require_POST
def member_role(request: HttpRequest, slug: str, user_id: int) -> HttpResponse:
    clinic, membership = get_clinic_for_user(request.user, slug, need=MANAGE)
    target = _target(clinic, user_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        return _render_team(request, clinic, membership, page_error="Choose a role.")
    try:
        team.member_change_role(
            membership=target, actor=current_user(request), role=form.cleaned_data["role"]
        )
    except ValidationError as exc:
        return _render_team(request, clinic, membership, page_error=" ".join(exc.messages))
    messages.success(request, f"{target.user.email} is now {target.get_role_display().lower()}.")
    return _back(clinic)


@login_required
@require_POST
def member_remove(request: HttpRequest, slug: str, user_id: int) -> HttpResponse:
    """Remove a member (owners), or leave when the member is yourself (anyone)."""
    clinic, membership = get_clinic_for_user(request.user, slug, need=READ)
    target = _target(clinic, user_id)
    leaving = target.pk == membership.pk
    if not leaving:
        require(membership, MANAGE)
    try:
        team.member_remove(membership=target, actor=current_user(request))
    except ValidationError as exc:
        return _render_team(request, clinic, membership, page_error=" ".join(exc.messages))
    if leaving:
        messages.success(request, f"You left {clinic.name}.")
        return redirect("tenants:home")
    messages.success(request, f"{target.user.email} was removed from {clinic.name}.")
    return _back(clinic)


@login_required
@require_POST
def invitation_revoke(request: HttpRequest, slug: str, invitation_id: str) -> HttpResponse:
    clinic, membership = get_clinic_for_user(request.user, slug, need=MANAGE)
    invitation = get_object_or_404(Invitation.objects.for_clinic(clinic), pk=invitation_id)
    try:
        team.invitation_revoke(invitation=invitation, actor=current_user(request))
    except ValidationError as exc:
        return _render_team(request, clinic, membership, page_error=" ".join(exc.messages))
    messages.success(request, f"The invitation to {invitation.email} was revoked.")
    return _back(clinic)


@login_required
@require_POST
def invitation_resend(request: HttpRequest, slug: str, invitation_id: str) -> HttpResponse:
    clinic, membership = get_clinic_for_user(request.user, slug, need=MANAGE)
    invitation = get_object_or_404(Invitation.objects.for_clinic(clinic), pk=invitation_id)
    try:
        invitation = team.invitation_resend(invitation=invitation, actor=current_user(request))
    except ValidationError as exc:
        return _render_team(request, clinic, membership, page_error=" ".join(exc.messages))
    messages.success(request, f"A new invitation link for {invitation.email} was created.")
    return _back(clinic)


# --- the emailed link ---------------------------------------------------------------------


INVITATION_SESSION_KEY = "_invitation_token"
ACCEPT_PATH_TOKEN = "accept"  # noqa: S105 (a placeholder, not a secret)


@never_cache
@require_http_methods(["GET", "POST"])
@invitation_limit
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    """The invitation link.

    The first request moves the token from the URL into the session and redirects to
    /invitations/accept/ (the way Django's password reset does), so the token is not in
    this page's Referer, the browser history, or the log line of any error answered below.
    Opening the link (GET) changes nothing, so mail scanners that follow links cannot accept
    on anyone's behalf; accepting is a POST with CSRF.
    """
    if token != ACCEPT_PATH_TOKEN:
        request.session[INVITATION_SESSION_KEY] = token[:100]  # real ones have 43 characters
        return redirect("tenants:invitation", token=ACCEPT_PATH_TOKEN)
    token = request.session.get(INVITATION_SESSION_KEY, "")
    found = team.invitation_for_token(token)
    problem = team.invitation_problem(found)
    if problem or found is None:
        status = 404 if problem == team.INVALID_LINK else 410
        return render(request, "tenants/invitation.html", {"problem": problem}, status=status)
    context: dict[str, Any] = {"invitation": found}
    if request.user.is_authenticated:
        return _accept_signed_in(request, found, token, context)
    if User.objects.filter(email__iexact=found.email).exists():  # sign in first, then accept
        return render(request, "tenants/invitation.html", {**context, "account_exists": True})
    form = InvitationSignupForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            user, membership = team.invitation_accept_new_user(
                token=token, password=form.cleaned_data["password"]
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            login(request, user, backend="tenants.backends.LockoutModelBackend")
            return _joined(request, membership)
    context["form"] = form
    status = 400 if form.errors else 200
    return render(request, "tenants/invitation.html", context, status=status)


def _accept_signed_in(
    request: HttpRequest, found: Invitation, token: str, context: dict[str, Any]
) -> HttpResponse:
    user = current_user(request)
    if user.email.lower() != found.email.lower():
        context["problem"] = team.WRONG_ACCOUNT.format(invited=found.email, current=user.email)
        return render(request, "tenants/invitation.html", context, status=403)
    if request.method == "POST":
        try:
            membership = team.invitation_accept(token=token, user=user)
        except ValidationError as exc:
            context["problem"] = " ".join(exc.messages)
            return render(request, "tenants/invitation.html", context, status=400)
        return _joined(request, membership)
    return render(request, "tenants/invitation.html", context)


def _joined(request: HttpRequest, membership: Membership) -> HttpResponse:
    request.session.pop(INVITATION_SESSION_KEY, None)
    role = membership.get_role_display().lower()
    messages.success(request, f"Welcome to {membership.clinic.name}. You are {role}.")
    return redirect("tenants:dashboard", slug=membership.clinic.slug)


# --- account ------------------------------------------------------------------------------


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's view: it checks the old password and calls update_session_auth_hash, so this
    session stays signed in while every other session of the user is signed out. API
    tokens are the scripts' sessions, so they are revoked too (a new one comes from
    POST /api/v1/auth/token with the new password, or the API tokens page)."""

    template_name = "tenants/password_change.html"
    success_url = reverse_lazy("tenants:home")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        api_tokens_revoke_all(user=form.user)
        messages.success(
            self.request,
            "Your password was changed. Other browsers were signed out and your API tokens "
            "revoked.",
        )
        return response
