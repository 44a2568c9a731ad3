"""The clinic's own LiveKit project, on a page of its own (decision 0132): owners and admins
of a clinic whose plan allows it connect one (checked with one read call, then the clinic
is moved into it), update it, or stop using it (moved back). telephony/own_project.py does
the work; the API is /api/v1/clinics/{slug}/livekit-project/."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from telephony.own_project import (
    OwnProjectInput,
    own_project_connect,
    own_project_disconnect,
    own_project_status,
)
from tenants.access import EDIT
from tenants.forms import WebForm, add_service_errors
from tenants.views.common import clinic_for_request, current_user


class OwnProjectForm(WebForm):
    url = forms.CharField(
        label="Server URL",
        max_length=300,
        help_text="As LiveKit shows it on the project's Settings page, e.g. "
        "wss://your-project.livekit.cloud.",
    )
    api_key = forms.CharField(label="API key", max_length=200)
    api_secret = forms.CharField(
        label="API secret",
        max_length=200,
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Never shown again. Leave it empty to keep the one we have.",
    )
    sip_uri = forms.CharField(
        label="SIP URI", max_length=300, help_text="e.g. sip:abc123.sip.livekit.cloud"
    )
    webhook_key = forms.CharField(
        label="Webhook API key",
        max_length=200,
        required=False,
        help_text="Only if the project signs its webhooks with another key than the one above.",
    )
    webhook_secret = forms.CharField(
        label="Webhook API secret",
        max_length=200,
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )


@login_required
@require_http_methods(["GET", "POST"])
def own_project(request: HttpRequest, slug: str) -> HttpResponse:
    clinic, membership = clinic_for_request(request, slug, read_need=EDIT)
    status = own_project_status(clinic)
    form = OwnProjectForm(
        initial={k: status[k] for k in ("url", "api_key", "sip_uri", "webhook_key")}
    )
    if request.method == "POST" and request.POST.get("action") == "disconnect":
        try:
            own_project_disconnect(clinic=clinic, actor=current_user(request))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(
                request,
                "Your phone line is moving back to Switchboard's servers; calls keep being "
                "answered. The dashboard shows each step.",
            )
        return redirect("tenants:own_project", slug=clinic.slug)
    if request.method == "POST":
        form = OwnProjectForm(request.POST)
        if form.is_valid():
            try:
                own_project_connect(
                    clinic=clinic,
                    values=OwnProjectInput(**form.cleaned_data),
                    actor=current_user(request),
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(
                    request,
                    "Your project answered and is saved. Your phone line moves into it now, "
                    "without dropping calls; the dashboard shows each step.",
                )
                return redirect("tenants:own_project", slug=clinic.slug)
    context = {"clinic": clinic, "membership": membership, "status": status, "form": form}
    return render(request, "tenants/own_project.html", context, status=400 if form.errors else 200)
