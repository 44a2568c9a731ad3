"""The API tokens page (/account/tokens/): the signed-in person's own tokens, listed,
created (the token is shown once, on the page that answers the POST) and revoked."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from tenants.api_tokens import MAX_NAME, api_token_create, api_token_revoke
from tenants.forms import WebForm, add_service_errors
from tenants.models import ApiToken
from tenants.views.common import current_user

EXPIRY_CHOICES = [(30, "30 days"), (90, "90 days"), (365, "1 year")]


class ApiTokenForm(WebForm):
    name = forms.CharField(
        label="Name",
        max_length=MAX_NAME,
        help_text="What the token is for, e.g. the script that uses it.",
    )
    expires_in_days = forms.TypedChoiceField(
        label="Expires after", choices=EXPIRY_CHOICES, coerce=int, initial=90
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def api_tokens(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    form = ApiTokenForm(request.POST or None)
    new_token = ""
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                _, new_token = api_token_create(
                    user=user,
                    name=form.cleaned_data["name"],
                    days=form.cleaned_data["expires_in_days"],
                )
            except ValidationError as exc:
                add_service_errors(form, exc, {"days": "expires_in_days"})
            else:
                form = ApiTokenForm()
        if not new_token:
            status = 400
    context = {
        "tokens": ApiToken.objects.filter(user=user),
        "form": form,
        "new_token": new_token,
    }
    return render(request, "tenants/api_tokens.html", context, status=status)


@login_required
@require_POST
def api_token_revoke_view(request: HttpRequest, token_id: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=token_id, user=current_user(request))
    api_token_revoke(token=token)
    messages.success(request, f"The token “{token.name}” was revoked; it no longer works.")
    return redirect("tenants:api_tokens")
