"""Who did it, from where: the request of the moment (entries written on purpose: recorder.py).

The middleware keeps the current request in a context variable. Every entry, whether
django-auditlog wrote it from a model change or `record()` wrote it for an action, is
completed from it in `fill_in`: the person (DRF puts a token's user on the request once it
has authenticated), how they acted (a member in the clinic pages, staff in the admin, an API
token, or the system: a task, a command), and the client address as the rate limiter sees it
(X-Forwarded-For only from TRUSTED_PROXIES).
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from django.db import models
from django.http import HttpRequest, HttpResponse

from tenants.ratelimit import client_ip

if TYPE_CHECKING:
    from audit.models import AuditEntry  # models imports this module

_request: ContextVar[HttpRequest | None] = ContextVar("audit_request", default=None)
# The model instance django-auditlog is logging right now (set by its pre_log signal).
_instance: ContextVar[models.Model | None] = ContextVar("audit_instance", default=None)

# Event names for the model history: "<what>.<create|update|delete>".
MODEL_NAMES = {
    "tenants.clinic": "clinic",
    "telephony.phonenumber": "number",
    "telephony.trunksettings": "carrier",
    "telephony.receptionist": "receptionist",
    "tenants.membership": "member",
    "tenants.invitation": "invitation",
    "telephony.calllogpolicy": "retention",
    "telephony.livekitproject": "livekit_project",
    "frontdesk.frontdesk": "hours",
    "frontdesk.afterhours": "after_hours",
    "frontdesk.location": "location",
}
ACTIONS = {0: "create", 1: "update", 2: "delete", 3: "access"}


class AuditMiddleware:
    """Keeps the request where the audit log can find it (after authentication)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)


def remember_instance(sender: Any, instance: models.Model, **kwargs: Any) -> None:
    _instance.set(instance)


def forget_instance(sender: Any, **kwargs: Any) -> None:
    _instance.set(None)


def token_label(auth: Any) -> str:
    """How a token is named in the log: its name and public prefix, never the secret."""
    name = getattr(auth, "name", "") or ""
    prefix = getattr(auth, "prefix", "") or ""
    label = " ".join(part for part in (name, f"{prefix}…" if prefix else "") if part)
    return label or "API token"


def _clinic_id_of(instance: models.Model | None) -> Any:
    from tenants.models import Clinic

    if isinstance(instance, Clinic):
        return instance.pk
    return getattr(instance, "clinic_id", None)


def fill_in(entry: AuditEntry) -> None:
    """Complete an entry from the instance being logged and the current request."""
    instance = _instance.get()
    if entry.clinic_id is None:
        entry.clinic_id = _clinic_id_of(instance)
    if not entry.event:
        model = MODEL_NAMES.get(
            entry.content_type.natural_key()[0] + "." + entry.content_type.model
        )
        entry.event = f"{model or entry.content_type.model}.{ACTIONS.get(entry.action, 'change')}"
    request = _request.get()
    user = getattr(request, "user", None) if request is not None else None
    signed_in = bool(getattr(user, "is_authenticated", False))
    if entry.actor_id is None and signed_in:
        entry.actor = user
    if entry.actor is not None and not entry.actor_email:
        entry.actor_email = entry.actor.email
    if entry.remote_addr is None and request is not None:
        entry.remote_addr = client_ip(request) or None
    if not entry.actor_kind:
        auth = getattr(request, "auth", None) if request is not None else None
        if auth is not None and signed_in:
            entry.actor_kind = "api_token"
            entry.additional_data = {**(entry.additional_data or {}), "via": token_label(auth)}
        elif (
            request is not None
            and signed_in
            and getattr(user, "is_staff", False)
            and request.path.startswith("/admin/")
        ):
            entry.actor_kind = "staff"
        elif entry.actor is not None:
            entry.actor_kind = "user"
        else:
            entry.actor_kind = "system"
