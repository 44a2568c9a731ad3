"""Web pages for the call loop: the test call (form and results), the call log, a call's
detail and the CSV export."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from frontdesk.models import Message
from telephony.models import Call, CallLogPolicy, PhoneNumber, Receptionist
from telephony.outcomes import calls_csv, outcome_of
from telephony.selectors import call_log_page
from telephony.testcall import NumberResult, TestCallReport, TestCallUnavailable, test_call_run
from telephony.testcall_hours import hours_sentence
from tenants.access import MANAGE
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


# --- the call log --------------------------------------------------------------------------


class CallLogPolicyForm(forms.ModelForm):
    class Meta:
        model = CallLogPolicy
        fields = ("transcript_days", "call_days")
        labels = {
            "transcript_days": "Keep transcripts for",
            "call_days": "Keep call details for",
        }
        help_texts = {
            "transcript_days": "After this, a call's transcript is deleted; the call stays.",
            "call_days": "After this, the call, its outcome and summary are deleted.",
        }


@login_required
@require_http_methods(["GET", "POST"])
def call_log(request: HttpRequest, slug: str) -> HttpResponse:
    """Every member sees the log (viewers with callers masked); owners set the retention."""
    clinic, membership = clinic_for_request(request, slug, write_need=MANAGE)
    policy = CallLogPolicy.for_clinic(clinic)
    form = CallLogPolicyForm(request.POST if request.method == "POST" else None, instance=policy)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Retention saved. Older calls are deleted within the hour.")
        return redirect("tenants:call_log", slug=clinic.slug)
    page = call_log_page(clinic=clinic, before=request.GET.get("before", ""))
    context = {
        "clinic": clinic,
        "membership": membership,
        "can_edit": membership.can_edit,
        "can_manage": membership.can_manage,
        "calls": page.calls,
        "page": page,
        "form": form,
        "policy": policy,
    }
    status = 400 if form.errors else 200
    return render(request, "telephony/call_log.html", context, status=status)


@login_required
@require_GET
def call_detail(request: HttpRequest, slug: str, room_sid: str) -> HttpResponse:
    clinic, membership = clinic_for_request(request, slug)
    call = Call.objects.for_clinic(clinic).filter(room_sid=room_sid).first()
    if call is None:
        raise Http404("No such call in this clinic.")
    context = {
        "clinic": clinic,
        "membership": membership,
        "can_edit": membership.can_edit,
        "call": call,
        "outcome": outcome_of(call),
        "policy": CallLogPolicy.for_clinic(clinic),
        # Messages the receptionist took on this call (frontdesk; same redacted room name).
        "taken_messages": list(
            Message.objects.filter(clinic=clinic, room_name=call.room_name).order_by("id")
        ),
    }
    return render(request, "telephony/call_detail.html", context)


@login_required
@require_GET
def call_log_csv(request: HttpRequest, slug: str) -> StreamingHttpResponse:
    clinic, membership = clinic_for_request(request, slug)
    lines = calls_csv(clinic, full_caller=membership.can_edit)
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y-%m-%d")
    response["Content-Disposition"] = f'attachment; filename="calls-{clinic.slug}-{stamp}.csv"'
    response["Cache-Control"] = "private, no-store"
    return response


def _sentences(clinic: Clinic, report: TestCallReport) -> list[tuple[NumberResult, str, str]]:
    """Each number's result with its one-sentence answer (the details go under Advanced)."""
    rows = {r.pk: r for r in Receptionist.objects.for_clinic(clinic).order_by("id")}
    first = next(iter(rows.values()))
    labels = dict(PhoneNumber.objects.for_clinic(clinic).values_list("e164", "label"))
    live = clinic.state == Clinic.State.LIVE

    def line(r: NumberResult) -> str:
        # The receptionist the number is assigned to (the line the call should reach).
        row = rows.get(r.assigned_receptionist or 0, first)
        if len(rows) > 1 and not labels.get(r.number):
            return f"{row.name} ({row.get_language_display()})"
        language = row.get_language_display()
        return receptionist_line(
            clinic_name=clinic.name, language=language, label=labels.get(r.number, "")
        )

    return [
        (
            r,
            test_call_sentence(
                number=r.number,
                outcome=r.outcome,
                passed=r.passed,
                clinic_live=live,
                line=line(r),
            ),
            hours_sentence(r),
        )
        for r in report.results
    ]
