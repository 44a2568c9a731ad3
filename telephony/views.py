"""Web pages for the call loop: the test call (form and results)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from telephony.testcall import TestCallReport, TestCallUnavailable, test_call_run
from tenants.views.common import clinic_for_request, current_user


@login_required
@require_http_methods(["GET", "POST"])
@transaction.non_atomic_requests  # calls LiveKit first, then records in its own transaction
def test_call(request: HttpRequest, slug: str) -> HttpResponse:
    """Viewers may look at the page; running a test call needs the edit role (403)."""
    clinic, membership = clinic_for_request(request, slug)
    caller = request.POST.get("from", "").strip() if request.method == "POST" else ""
    report: TestCallReport | None = None
    errors: list[str] = []
    if request.method == "POST":
        try:
            report = test_call_run(clinic=clinic, caller=caller, actor=current_user(request))
        except ValidationError as exc:
            errors = exc.messages
        except TestCallUnavailable as exc:
            errors = [exc.sentence]
    context = {
        "clinic": clinic,
        "membership": membership,
        "can_edit": membership.can_edit,
        "caller": caller,
        "report": report,
        "errors": errors,
    }
    return render(request, "telephony/test_call.html", context, status=400 if errors else 200)
