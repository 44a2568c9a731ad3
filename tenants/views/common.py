"""Helpers shared by the web views."""

from __future__ import annotations

from typing import Any, cast

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from tenants.access import EDIT, READ, get_clinic_for_user
from tenants.models import Clinic, Membership, User

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

# The settings area after go-live (templates/tenants/settings/base.html): the setup steps
# reached by section; the receptionists, front-desk and carrier-buy pages sit beside them.
SETTINGS_SECTIONS: list[tuple[str, str]] = [
    ("details", "Clinic details"),
    ("numbers", "Phone numbers"),
    # "agent" (the first receptionist) stays reachable; the nav links to all receptionists.
    ("carrier", "Carrier"),
]


def clinic_for_request(
    request: HttpRequest, slug: str, *, write_need: str = EDIT, read_need: str = READ
) -> tuple[Clinic, Membership]:
    """Resolve the clinic: reading needs `read_need`, any other method `write_need`.

    Outsiders get 404 and members without the role 403, both from the one access helper.
    """
    need = read_need if request.method in SAFE_METHODS else write_need
    return get_clinic_for_user(request.user, slug, need=need)


def current_user(request: HttpRequest) -> User:
    """The signed-in user (for views behind login_required)."""
    return cast(User, request.user)


def settings_context(
    clinic: Clinic, membership: Membership, step: str, title: str
) -> dict[str, Any]:
    """What every page under the settings navigation needs: the clinic, the member's role,
    the sections, and which one is current (`step`, `step_title`)."""
    return {
        "clinic": clinic,
        "membership": membership,
        "can_edit": membership.can_edit,
        "settings_sections": SETTINGS_SECTIONS,
        "step": step,
        "step_title": title,
    }


def settings_page(
    request: HttpRequest,
    clinic: Clinic,
    membership: Membership,
    template: str,
    step: str,
    title: str,
    context: dict[str, Any],
    status: int = 200,
) -> HttpResponse:
    """Render a page of the settings area (its template extends tenants/settings/base.html)."""
    base = settings_context(clinic, membership, step, title)
    return render(request, template, base | context, status=status)
