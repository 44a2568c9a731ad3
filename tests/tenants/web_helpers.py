"""Small helpers shared by the web view tests."""

from __future__ import annotations

from django.urls import reverse


def setup_url(clinic, step: str) -> str:
    return reverse("tenants:setup", args=[clinic.slug, step])


def dashboard_url(clinic) -> str:
    return reverse("tenants:dashboard", args=[clinic.slug])


def errors_for(response, field: str) -> list[str]:
    form = response.context["form"]
    return [str(e) for e in form.errors.get(field, [])]
