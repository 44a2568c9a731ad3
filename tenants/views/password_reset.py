"""Password reset with Django's own views (docs/security.md, decision 0022).

- Asking for a link answers the same whether or not the address has an account, and is
  limited per client IP (a 429 page) and per address (over the limit nothing is sent, the
  answer is the same).
- The link is Django's token: it works once (it is tied to the password hash and the last
  sign-in, which the reset changes) and expires after PASSWORD_RESET_TIMEOUT (1 hour).
  Django moves it from the URL into the session before showing the form, so it does not
  leak through the Referer header.
- The link points at PUBLIC_BASE_URL, never at the Host header of the request that asked.
- A new password revokes the account's API tokens, signs out its other sessions (Django's
  session hash) and clears the sign-in lockout for every client.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import views as auth_views
from django.http import HttpResponse
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator

from tenants.api_tokens import api_tokens_revoke_all
from tenants.limits import invitation_limit, password_reset_email_allowed, password_reset_limit
from tenants.ratelimit import forget_all_login_failures


class ResetRequestForm(auth_forms.PasswordResetForm):
    email = forms.EmailField(
        label="Email",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    def get_users(self, email: str) -> Any:
        request = getattr(self, "request", None)
        if request is not None and not password_reset_email_allowed(request, email):
            return iter(())  # over the per-address limit: send nothing, answer the same
        return super().get_users(email)


class NewPasswordForm(auth_forms.SetPasswordForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["new_password1"].label = "New password"
        self.fields["new_password2"].label = "New password again"


@method_decorator(password_reset_limit, name="post")
class PasswordResetView(auth_views.PasswordResetView):
    template_name = "tenants/password_reset_form.html"
    email_template_name = "tenants/password_reset_email.txt"
    subject_template_name = "tenants/password_reset_subject.txt"
    form_class = ResetRequestForm
    success_url = reverse_lazy("tenants:password_reset_done")

    def get_form(self, form_class: Any = None) -> Any:
        form = super().get_form(form_class)
        form.request = self.request
        return form

    def form_valid(self, form: Any) -> HttpResponse:
        self.extra_email_context = {
            "base": settings.PUBLIC_BASE_URL.rstrip("/"),
            "timeout_minutes": max(1, settings.PASSWORD_RESET_TIMEOUT // 60),
        }
        return super().form_valid(form)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "tenants/password_reset_done.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["minutes"] = max(1, settings.PASSWORD_RESET_TIMEOUT // 60)
        return context


@method_decorator(invitation_limit, name="dispatch")
class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "tenants/password_reset_confirm.html"
    form_class = NewPasswordForm
    success_url = reverse_lazy("tenants:password_reset_complete")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        api_tokens_revoke_all(user=form.user)
        forget_all_login_failures(form.user.email)
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "tenants/password_reset_complete.html"
