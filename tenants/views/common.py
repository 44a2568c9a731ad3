"""Helpers shared by the web views."""

from __future__ import annotations

from typing import cast

from django.http import HttpRequest

from tenants.access import EDIT, READ, get_clinic_for_user
from tenants.models import Clinic, Membership, User

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


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
