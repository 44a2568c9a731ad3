"""Show every time on a clinic's pages in the clinic's own time zone.

Django converts aware datetimes to the *current* time zone when a template renders them;
this middleware makes that zone the clinic's for the web pages under /clinics/<slug>/
(and UTC everywhere else, the API included: its timestamps are ISO 8601 with an offset,
and scripts should not see them move with a setting).
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from tenants.models import Clinic
from tenants.timezones import UTC, canonical

WEB_NAMESPACES = frozenset({"tenants", "frontdesk"})


class ClinicTimezoneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> None:
        match = request.resolver_match
        slug = view_kwargs.get("slug")
        if not slug or match is None or match.namespace not in WEB_NAMESPACES:
            timezone.deactivate()
            return
        # Only the zone is read here; the view itself decides who may see the clinic.
        name = Clinic.objects.filter(slug=slug).values_list("timezone", flat=True).first()
        timezone.activate(zoneinfo.ZoneInfo(canonical(name) or UTC))
