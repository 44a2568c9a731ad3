"""Web pages for the call loop: the test call (form and results)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from telephony.models import AgentConfig, PhoneNumber
from telephony.testcall import NumberResult, TestCallReport, TestCallUnavailable, test_call_run
from tenants.models import Clinic
from tenants.timezones import clinic_region
from tenants.views.common import clinic_for_request, current_user
from tenants.wording import receptionist_line, test_call_sentence


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
        "sentences": _sentences(clinic, report) if report else [],
        "region": clinic_region(clinic),
        "clinic": clinic,
        "membership": membership,
        "can_edit": membership.can_edit,
        "caller": caller,
        "report": report,
        "errors": errors,
    }
    return render(request, "telephony/test_call.html", context, status=400 if errors else 200)


def _sentences(clinic: Clinic, report: TestCallReport) -> list[tuple[NumberResult, str]]:
    """Each number's result with its one-sentence answer (the details go under Advanced)."""
    config = AgentConfig.objects.for_clinic(clinic).get()
    labels = dict(PhoneNumber.objects.for_clinic(clinic).values_list("e164", "label"))
    live = clinic.state == Clinic.State.LIVE
    return [
        (
            r,
            test_call_sentence(
                number=r.number,
                outcome=r.outcome,
                passed=r.passed,
                clinic_live=live,
                line=receptionist_line(
                    clinic_name=clinic.name,
                    language=config.get_language_display(),
                    label=labels.get(r.number, ""),
                ),
            ),
        )
        for r in report.results
    ]
