"""A clinic's two-factor rule. The devices themselves are django-otp's (TOTP, static)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ClinicTwoFactorPolicy(models.Model):
    """An owner's choice: every member must sign in with a second factor to open the clinic."""

    clinic = models.OneToOneField(
        "tenants.Clinic", on_delete=models.CASCADE, related_name="two_factor_policy"
    )
    required = models.BooleanField(default=False)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "clinic two-factor rule"

    def __str__(self) -> str:
        return f"Two-factor rule of {self.clinic}"
