"""Two-factor helpers for tests: enrol a user and compute the code their app would show."""

from __future__ import annotations

from typing import Any

from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from twofactor.services import new_recovery_codes


def enrol(user: Any) -> TOTPDevice:
    """A confirmed authenticator for the user (the one they have, or a new one)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)
        new_recovery_codes(user)
    return device


def code_for(device: TOTPDevice, *, steps_ahead: int = 0) -> str:
    """What the app shows now (RFC 6238, django-otp's own implementation)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time += steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def verify_session(client: Any, user: Any) -> None:
    device = enrol(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
