"""The second sign-in step, the account's two-factor page, and an owner's clinic rule."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import BACKEND_SESSION_KEY, get_user_model, login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login
from django_ratelimit.decorators import ratelimit

from tenants.access import MANAGE
from tenants.ratelimit import ip_key
from tenants.views.common import clinic_for_request, current_user
from twofactor import services

PENDING = "twofactor_pending"  # the session key: who passed the password step, and when
PENDING_SECONDS = 300


def _rate(name: str) -> Any:
    return lambda group, request: getattr(settings, name)


def _pending_key(group: str, request: HttpRequest) -> str:
    pending = request.session.get(PENDING) or {}
    return f"user:{pending.get('user', '')}" if pending else ip_key(group, request)


def _safe(request: HttpRequest, target: str) -> str:
    ok = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if target and ok else ""


def start_second_step(request: HttpRequest, user: Any, next_url: str) -> HttpResponse:
    """Called by the sign-in view after a right password for an enrolled user: nobody is
    signed in until a code from the app (or a recovery code) is given."""
    request.session.cycle_key()
    request.session[PENDING] = {
        "user": user.pk,
        "backend": getattr(user, "backend", settings.AUTHENTICATION_BACKENDS[0]),
        "next": _safe(request, next_url),
        "at": time.time(),
    }
    return redirect("twofactor:login_code")


@require_http_methods(["GET", "POST"])
@ratelimit(group="login-ip", key=ip_key, rate=_rate("RATELIMIT_LOGIN_IP"), method="POST")
@ratelimit(
    group="login-code", key=_pending_key, rate=_rate("RATELIMIT_LOGIN_ACCOUNT"), method="POST"
)
def login_code(request: HttpRequest) -> HttpResponse:
    pending = request.session.get(PENDING)
    if not pending or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        request.session.pop(PENDING, None)
        messages.info(request, "Sign in again: the code step waits five minutes at most.")
        return redirect("tenants:login")
    user = get_user_model().objects.filter(pk=pending["user"], is_active=True).first()
    if user is None:
        request.session.pop(PENDING, None)
        return redirect("tenants:login")
    error = ""
    if request.method == "POST":
        waiting = services.must_wait(user)
        device = None if waiting else services.verify(user, request.POST.get("code"))
        if waiting:
            error = "Too many wrong codes: wait a few seconds, then type the code your app shows."
        elif device is None:
            error = "That code did not work. Check the time on your phone, or use a recovery code."
        else:
            del request.session[PENDING]
            request.session[BACKEND_SESSION_KEY] = pending["backend"]
            login(request, user, backend=pending["backend"])
            otp_login(request, device)
            if device.name == services.RECOVERY_DEVICE:
                left = services.recovery_codes_left(user)
                messages.warning(
                    request,
                    f"You signed in with a recovery code ({left} left). If you lost your "
                    "phone, set up your authenticator app again now.",
                )
                return redirect("twofactor:account")
            return redirect(pending.get("next") or settings.LOGIN_REDIRECT_URL)
    status = 400 if error else 200
    return render(request, "twofactor/login_code.html", {"error": error}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def account(request: HttpRequest) -> HttpResponse:
    """Set up, confirm this session, new recovery codes, set up again, turn off."""
    user = current_user(request)
    enrolled = services.is_enrolled(user)
    verified = bool(user.is_verified()) if hasattr(user, "is_verified") else False
    next_url = _safe(request, request.POST.get("next") or request.GET.get("next", ""))
    context: dict[str, Any] = {"next": next_url, "required_by": services.required_by(user)}
    error = ""
    action = request.POST.get("action", "") if request.method == "POST" else ""

    if action == "confirm" and not enrolled:
        codes = services.confirm(request, user, request.POST.get("code"))
        if codes is not None:
            messages.success(request, "Two-factor sign-in is on.")
            context["recovery_codes"] = codes
            enrolled = verified = True
        else:
            error = "That code did not work. Type the six digits your app shows now."
    elif action == "verify" and enrolled and not verified:
        device = services.verify(user, request.POST.get("code"))
        if device is None:
            error = "That code did not work."
        else:
            otp_login(request, device)
            verified = True
            if next_url:
                return redirect(next_url)
    elif action and enrolled and not verified:
        error = "Enter a code first to confirm it is you."
    elif action and enrolled:
        enrolled, error = _manage(request, user, action, context)

    if not enrolled:
        device = services.pending_device(user)
        context["qr"] = services.qr_data_uri(device)
        context["secret"] = services.secret_text(device)
    context.update(
        enrolled=enrolled,
        verified=verified,
        error=error,
        codes_left=services.recovery_codes_left(user) if enrolled else 0,
    )
    return render(request, "twofactor/account.html", context, status=400 if error else 200)


def _manage(
    request: HttpRequest, user: Any, action: str, context: dict[str, Any]
) -> tuple[bool, str]:
    """The account page's actions for a member signed in with a code: new recovery codes,
    set up again, turn off. Returns whether two-factor is still on, and the error if any."""
    if action == "recovery":
        context["recovery_codes"] = services.new_recovery_codes(user)
        messages.success(request, "New recovery codes made; the old ones no longer work.")
    elif action == "reset":
        services.turn_off(user)
        messages.info(request, "Scan the new code with your app to finish setting up again.")
        return False, ""
    elif action == "off":
        if context["required_by"]:
            return True, "Two-factor sign-in is required for: " + ", ".join(context["required_by"])
        services.turn_off(user)
        messages.success(request, "Two-factor sign-in is off.")
        return False, ""
    return True, ""


@login_required
@require_POST
def clinic_requirement(request: HttpRequest, slug: str) -> HttpResponse:
    clinic, _ = clinic_for_request(request, slug, write_need=MANAGE)
    user = current_user(request)
    required = request.POST.get("required") == "on"
    if required and not services.is_enrolled(user):
        messages.error(request, "Turn on two-factor sign-in for yourself first.")
    else:
        services.set_clinic_requirement(clinic=clinic, actor=user, required=required)
        messages.success(
            request,
            "Everyone in this clinic now needs two-factor sign-in."
            if required
            else "Two-factor sign-in is now each member's choice.",
        )
    return redirect("tenants:team", slug=clinic.slug)
