"""Web pages: the messages inbox (/clinics/<slug>/messages/) and one message. Every member
sees the inbox with callers masked; owners and admins open a message with the caller's full
number (decision 0030), mark it handled, and choose whether each message is emailed."""

from __future__ import annotations

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from frontdesk.messages import email_messages_set, message_set_handled
from frontdesk.models import FrontDesk, Message
from tenants.views.common import clinic_for_request, current_user

INBOX_PAGE = 100
SHOWS = {"new": "New", "handled": "Handled", "all": "All"}


@login_required
@require_http_methods(["GET", "POST"])
def inbox(request: HttpRequest, slug: str) -> HttpResponse:
    clinic, membership = clinic_for_request(request, slug)
    if request.method == "POST":
        enabled = request.POST.get("email_messages") == "on"
        email_messages_set(clinic=clinic, enabled=enabled)
        flash.success(
            request,
            "Owners and admins will get an email for each new message."
            if enabled
            else "No more emails for new messages.",
        )
        return redirect("frontdesk:messages", slug=clinic.slug)
    show = request.GET.get("show", "new")
    if show not in SHOWS:
        show = "new"
    rows = Message.objects.filter(clinic=clinic).select_related("handled_by", "receptionist")
    if show != "all":
        rows = rows.filter(handled_at__isnull=show == "new")
    desk = FrontDesk.objects.filter(clinic=clinic).first()
    context = {
        "clinic": clinic,
        "membership": membership,
        "can_edit": membership.can_edit,
        "rows": list(rows[:INBOX_PAGE]),
        "show": show,
        "shows": SHOWS,
        "new_count": Message.objects.filter(clinic=clinic, handled_at__isnull=True).count(),
        "email_messages": bool(desk and desk.email_messages),
    }
    return render(request, "frontdesk/messages.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def message_detail(request: HttpRequest, slug: str, message_id: int) -> HttpResponse:
    clinic, membership = clinic_for_request(request, slug)
    row = (
        Message.objects.filter(clinic=clinic, pk=message_id)
        .select_related("handled_by", "receptionist")
        .first()
    )
    if row is None:
        raise Http404("No such message in this clinic.")
    if request.method == "POST":
        handled = request.POST.get("handled") == "true"
        message_set_handled(message=row, handled=handled, actor=current_user(request))
        flash.success(request, "Marked as handled." if handled else "Marked as new again.")
        return (
            redirect("frontdesk:messages", slug=clinic.slug)
            if handled
            else redirect("frontdesk:message", slug=clinic.slug, message_id=row.pk)
        )
    full = membership.can_edit
    context = {
        "clinic": clinic,
        "membership": membership,
        "can_edit": full,
        "m": row,
        "caller": (row.caller_number or row.caller_masked) if full else row.caller_masked,
        "callback": row.callback_number if full else row.callback_masked,
    }
    return render(request, "frontdesk/message.html", context)
