"""The clinic's webhook pages (Settings → Webhooks): endpoints, their secrets (shown once,
on the page that answers the create or the rotation), the delivery log with resend and
"send test event". Owners and admins only, reading included (decision 0034)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from tenants.access import EDIT
from tenants.models import Clinic
from tenants.views.common import clinic_for_request
from webhooks import services
from webhooks.models import EventType, WebhookDelivery, WebhookEndpoint, event_label

LOG_PAGE = 50


class EndpointForm(forms.Form):
    url = forms.CharField(
        label="Address (URL)",
        max_length=services.MAX_URL_LENGTH,
        help_text="The https:// address to send to, from whoever runs the receiving system.",
        error_messages={"required": "Enter the address to send to, starting with https://."},
        widget=forms.URLInput(attrs={"placeholder": "https://hooks.example.com/switchboard"}),
    )
    events = forms.MultipleChoiceField(
        choices=EventType.choices,
        widget=forms.CheckboxSelectMultiple,
        label="What to send",
        help_text="Choose one or more.",
        error_messages={"required": "Choose at least one thing to send."},
    )
    enabled = forms.BooleanField(required=False, initial=True, label="Send events to this address")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")  # as every clinic form: no colon after labels
        super().__init__(*args, **kwargs)


def _endpoint(clinic: Clinic, endpoint_id: str) -> WebhookEndpoint:
    try:
        key = uuid.UUID(endpoint_id)
    except ValueError:
        raise Http404("No such webhook endpoint in this clinic.") from None
    found = WebhookEndpoint.objects.filter(clinic=clinic, pk=key).first()
    if found is None:
        raise Http404("No such webhook endpoint in this clinic.")
    return found


def _labelled(endpoints: Iterable[WebhookEndpoint]) -> list[WebhookEndpoint]:
    found = list(endpoints)
    for endpoint in found:
        endpoint.event_labels = [event_label(t) for t in endpoint.events]  # type: ignore[attr-defined]
    return found


def _apply(form: EndpointForm, call: object) -> bool:
    """Run a service; its field errors land on the form."""
    try:
        call()  # type: ignore[operator]
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
        return False
    return True


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def endpoint_list(request: HttpRequest, slug: str) -> HttpResponse:
    clinic, membership = clinic_for_request(request, slug, read_need=EDIT)
    form = EndpointForm(request.POST if request.method == "POST" else None)
    secret = ""
    created = None
    if request.method == "POST" and form.is_valid():
        result: dict[str, object] = {}

        def create() -> None:
            result["pair"] = services.endpoint_create(
                clinic=clinic,
                url=form.cleaned_data["url"],
                chosen=form.cleaned_data["events"],
                enabled=form.cleaned_data["enabled"],
            )

        if _apply(form, create):
            created, secret = result["pair"]  # type: ignore[misc]
            form = EndpointForm()
    context = {
        "clinic": clinic,
        "membership": membership,
        "can_edit": True,
        "endpoints": _labelled(WebhookEndpoint.objects.filter(clinic=clinic)),
        "form": form,
        "timeout": settings.WEBHOOKS_TIMEOUT_SECONDS,
        "created": created,
        "secret": secret,
    }
    status = 400 if form.errors else (201 if created else 200)
    return render(request, "webhooks/endpoints.html", context, status=status)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def endpoint_detail(request: HttpRequest, slug: str, endpoint_id: str) -> HttpResponse:
    clinic, membership = clinic_for_request(request, slug, read_need=EDIT)
    endpoint = _endpoint(clinic, endpoint_id)
    initial = {"url": endpoint.url, "events": endpoint.events, "enabled": endpoint.enabled}
    form = EndpointForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if _apply(
            form,
            lambda: services.endpoint_update(
                endpoint=endpoint, url=data["url"], events=data["events"], enabled=data["enabled"]
            ),
        ):
            messages.success(request, "Saved.")
            return redirect("webhooks:detail", slug=clinic.slug, endpoint_id=endpoint.pk)
    return _detail(request, clinic, membership, endpoint, form)


def _detail(
    request: HttpRequest,
    clinic: Clinic,
    membership: object,
    endpoint: WebhookEndpoint,
    form: EndpointForm | None = None,
    secret: str = "",
) -> HttpResponse:
    initial = {"url": endpoint.url, "events": endpoint.events, "enabled": endpoint.enabled}
    form = form or EndpointForm(initial=initial)
    deliveries = (
        WebhookDelivery.objects.filter(endpoint=endpoint)
        .select_related("event")
        .prefetch_related("attempt_log")
        .order_by("-created_at", "-id")[:LOG_PAGE]
    )
    for d in deliveries:
        d.event_label = event_label(d.event.type)  # type: ignore[attr-defined]
    context = {
        "clinic": clinic,
        "membership": membership,
        "can_edit": True,
        "endpoint": endpoint,
        "form": form,
        "deliveries": deliveries,
        "secret": secret,
        "timeout": settings.WEBHOOKS_TIMEOUT_SECONDS,
        "log_days": settings.WEBHOOKS_LOG_DAYS,
    }
    return render(request, "webhooks/endpoint.html", context, status=400 if form.errors else 200)


@never_cache
@login_required
@require_POST
def rotate_secret(request: HttpRequest, slug: str, endpoint_id: str) -> HttpResponse:
    clinic, membership = clinic_for_request(request, slug)
    endpoint = _endpoint(clinic, endpoint_id)
    secret = services.endpoint_rotate_secret(endpoint=endpoint)
    return _detail(request, clinic, membership, endpoint, secret=secret)


@login_required
@require_POST
def send_test(request: HttpRequest, slug: str, endpoint_id: str) -> HttpResponse:
    clinic, _ = clinic_for_request(request, slug)
    endpoint = _endpoint(clinic, endpoint_id)
    try:
        services.endpoint_send_test(endpoint=endpoint)
        messages.success(request, "Test sent. Reload the page in a few seconds to see the answer.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("webhooks:detail", slug=clinic.slug, endpoint_id=endpoint.pk)


@login_required
@require_POST
def resend(request: HttpRequest, slug: str, endpoint_id: str, delivery_id: int) -> HttpResponse:
    clinic, _ = clinic_for_request(request, slug)
    endpoint = _endpoint(clinic, endpoint_id)
    delivery = WebhookDelivery.objects.filter(endpoint=endpoint, pk=delivery_id).first()
    if delivery is None:
        raise Http404("No such delivery for this endpoint.")
    try:
        services.delivery_resend(delivery=delivery)
        messages.success(
            request, "Sent again, marked as the same event so it is not counted twice."
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("webhooks:detail", slug=clinic.slug, endpoint_id=endpoint.pk)


@login_required
@require_POST
def delete(request: HttpRequest, slug: str, endpoint_id: str) -> HttpResponse:
    clinic, _ = clinic_for_request(request, slug)
    services.endpoint_delete(endpoint=_endpoint(clinic, endpoint_id))
    messages.success(request, "Address removed: nothing more is sent to it.")
    return redirect("webhooks:list", slug=clinic.slug)
