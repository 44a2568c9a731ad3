"""Landing, signup, sign-in/out, email verification and the post-login "home" redirect."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tenants.forms import ClinicNameForm, LoginForm, SignupForm, add_service_errors
from tenants.limits import login_account_limit, login_ip_limit, refuse_if_locked, signup_limit
from tenants.selectors import clinic_memberships_for_user
from tenants.services import (
    clinic_create,
    send_verification_email,
    user_signup,
    user_verify_email,
)
from tenants.views.common import current_user
from twofactor.services import is_enrolled
from twofactor.views import start_second_step

RESEND_INTERVAL_SECONDS = 60


@require_GET
def landing(request: HttpRequest) -> HttpResponse:
    return render(request, "tenants/landing.html")


@require_http_methods(["GET", "POST"])
@signup_limit
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("tenants:home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user, clinic = user_signup(**form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            login(request, user)
            messages.success(request, f"Welcome! {clinic.name} is set up; let's finish it.")
            return redirect("tenants:setup", slug=clinic.slug, step="details")
    status = 400 if form.errors else 200
    return render(request, "tenants/signup.html", {"form": form}, status=status)


@method_decorator([login_ip_limit, login_account_limit], name="post")
class LoginView(auth_views.LoginView):
    template_name = "tenants/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        refuse_if_locked(request.POST.get("username", "").strip().lower(), request)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form: Any) -> HttpResponse:
        """Right password: an enrolled user goes on to the code step, signed in only then."""
        user = form.get_user()
        if is_enrolled(user):
            return start_second_step(self.request, user, self.get_redirect_url())
        return super().form_valid(form)


class LogoutView(auth_views.LogoutView):
    """POST only (Django's default since 5.0), so a link cannot sign anyone out."""


@require_GET
def verify_email(request: HttpRequest, token: str) -> HttpResponse:
    """The emailed link. A GET is fine here: the signed token is the proof, and
    verifying is idempotent (a mail scanner opening it changes nothing harmful)."""
    try:
        user = user_verify_email(token=token)
    except ValidationError as exc:
        context = {"ok": False, "message": " ".join(exc.messages)}
        return render(request, "tenants/verify_email.html", context, status=400)
    return render(request, "tenants/verify_email.html", {"ok": True, "verified_user": user})


@login_required
@require_POST
def verify_email_resend(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    if user.email_verified:
        messages.info(request, "Your email address is already confirmed.")
    elif not cache.add(f"verify-resend:{user.pk}", 1, RESEND_INTERVAL_SECONDS):
        messages.warning(request, "We just sent a link; wait a minute before asking again.")
    else:
        send_verification_email(user)
        messages.success(request, f"We sent a new link to {user.email}.")
    return redirect(_safe_next(request) or "tenants:home")


def _safe_next(request: HttpRequest) -> str | None:
    target = request.POST.get("next", "")
    allowed = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if target and allowed else None


@login_required
@require_http_methods(["GET", "POST"])
def home(request: HttpRequest) -> HttpResponse:
    """Straight to the clinic when there is one; a picker (and "new clinic") otherwise."""
    user = current_user(request)
    memberships = clinic_memberships_for_user(user=user)
    form = ClinicNameForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            clinic = clinic_create(owner=user, name=form.cleaned_data["clinic_name"])
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            return redirect("tenants:setup", slug=clinic.slug, step="details")
    elif request.method == "GET" and len(memberships) == 1:
        return redirect("tenants:dashboard", slug=memberships[0].clinic.slug)
    context = {"memberships": memberships, "form": form}
    return render(
        request, "tenants/clinic_picker.html", context, status=400 if form.errors else 200
    )
