"""Where two-factor sign-in is enforced on the web.

- The admin: a staff member whose session is not verified is sent to the two-factor page
  (to enrol, or to enter a code), never into the admin. Its own password-only login page
  redirects to the app's sign-in, which asks for the code.
- A clinic that requires it: tenants.access raises TwoFactorRequired; people are sent to
  the two-factor page, the API answers 403 (DRF renders the PermissionDenied).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from twofactor.exceptions import TwoFactorRequired

ADMIN = "/admin/"
OPEN_ADMIN_PATHS = ("/admin/logout/",)


def _to_account(request: HttpRequest, message: str) -> HttpResponse:
    messages.warning(request, message)
    query = urlencode({"next": request.get_full_path()})
    return HttpResponseRedirect(f"{reverse('twofactor:account')}?{query}")


class TwoFactorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path
        if path.startswith(ADMIN) and path not in OPEN_ADMIN_PATHS:
            if path == "/admin/login/":
                query = urlencode({"next": request.GET.get("next", ADMIN)})
                return HttpResponseRedirect(f"{reverse('tenants:login')}?{query}")
            user = request.user
            if user.is_authenticated and user.is_staff and not user.is_verified():  # type: ignore[union-attr]
                return _to_account(
                    request,
                    "Staff accounts need two-factor sign-in to open the admin. "
                    "Set it up here, or enter a code from your app.",
                )
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, TwoFactorRequired) and not request.path.startswith("/api/"):
            return _to_account(request, str(exception))
        return None
