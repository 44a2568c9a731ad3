"""The clinic's audit log in the web pages: owners and admins read and export it."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from audit.presenting import change_lines, entries_csv, event_label, who
from audit.selectors import KINDS, clinic_entries
from tenants.access import EDIT
from tenants.views.common import clinic_for_request

PAGE = 200


@login_required
@require_GET
def audit_log(request: HttpRequest, slug: str) -> HttpResponse:
    clinic, membership = clinic_for_request(request, slug, read_need=EDIT)
    errors: dict[str, list[str]] = {}
    try:
        entries = list(clinic_entries(clinic, request.GET).select_related("content_type")[:PAGE])
    except ValidationError as exc:
        errors, entries = exc.message_dict, []
    rows = [
        {"entry": e, "label": event_label(e.event), "who": who(e), "changes": change_lines(e)}
        for e in entries
    ]
    context = {
        "clinic": clinic,
        "membership": membership,
        "rows": rows,
        "kinds": KINDS,
        "params": request.GET,
        "errors": errors,
        "page_size": PAGE,
        "query": request.GET.urlencode(),
    }
    return render(request, "audit/log.html", context, status=400 if errors else 200)


@login_required
@require_GET
def audit_log_csv(request: HttpRequest, slug: str) -> HttpResponse:
    clinic, _ = clinic_for_request(request, slug, read_need=EDIT)
    try:
        entries = clinic_entries(clinic, request.GET)
    except ValidationError as exc:
        return HttpResponse(
            "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items()),
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    response = StreamingHttpResponse(
        entries_csv(entries.iterator(chunk_size=500)), content_type="text/csv; charset=utf-8"
    )
    stamp = timezone.now().strftime("%Y-%m-%d")
    response["Content-Disposition"] = f'attachment; filename="audit-{clinic.slug}-{stamp}.csv"'
    response["Cache-Control"] = "private, no-store"
    return response
