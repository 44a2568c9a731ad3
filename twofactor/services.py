"""Two-factor sign-in: an authenticator app (TOTP) and ten single-use recovery codes.

django-otp keeps the devices and checks the codes (with its own throttling: each wrong code
doubles the wait before the next try). A user is *enrolled* when they have a confirmed TOTP
device; a session is *verified* when django_otp.login() recorded the device that signed it in.
"""

from __future__ import annotations

from typing import Any

import segno
from django.db import transaction
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.recorder import record
from twofactor.models import ClinicTwoFactorPolicy

RECOVERY_CODES = 10
APP_DEVICE = "Authenticator app"
RECOVERY_DEVICE = "Recovery codes"
MAX_CODE = 32


def is_enrolled(user: Any) -> bool:
    return bool(
        getattr(user, "is_authenticated", False)
        and TOTPDevice.objects.filter(user=user, confirmed=True).exists()
    )


def is_verified(user: Any) -> bool:
    """A verified web session; for an API token, the token's user being enrolled (a token
    is only handed out with a code once the user is enrolled)."""
    check = getattr(user, "is_verified", None)
    if callable(check) and check():
        return True
    return check is None and is_enrolled(user)


def recovery_codes_left(user: Any) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def pending_device(user: Any) -> TOTPDevice:
    """The unconfirmed authenticator the user is setting up (one at a time)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
    return device or TOTPDevice.objects.create(user=user, name=APP_DEVICE, confirmed=False)


def qr_data_uri(device: TOTPDevice) -> str:
    """The otpauth:// link as an SVG QR code in a data: URI (CSP allows data: images)."""
    return str(segno.make(device.config_url, error="m").svg_data_uri(scale=5, border=2))


def secret_text(device: TOTPDevice) -> str:
    """The key for typing into an app by hand, base32 in groups of four."""
    import base64

    key = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(key[i : i + 4] for i in range(0, len(key), 4))


def _clean(code: object) -> str:
    return "".join(str(code or "").split())[:MAX_CODE]


def confirm(request: Any, user: Any, code: object) -> list[str] | None:
    """Confirm the pending authenticator with a code from it: on success the old devices go,
    fresh recovery codes are made (returned, shown once) and this session is verified."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
    token = _clean(code)
    if device is None or not token.isdigit() or not device.verify_token(token):
        return None
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        StaticDevice.objects.filter(user=user).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = new_recovery_codes(user)
    otp_login(request, device)
    record("two_factor.enable", target=user, actor=user)
    return codes


def new_recovery_codes(user: Any) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    static = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=static, token=c) for c in codes])
    return codes


def must_wait(user: Any) -> bool:
    """After a wrong code django-otp makes the next try wait (1 s, 2 s, 4 s, …)."""
    devices = [
        *TOTPDevice.objects.filter(user=user, confirmed=True),
        *StaticDevice.objects.filter(user=user, confirmed=True),
    ]
    return any(not d.verify_is_allowed()[0] for d in devices)


def verify(user: Any, code: object) -> Any:
    """The device that accepts this code (the app, or a recovery code, used up), or None."""
    token = _clean(code)
    if not token:
        return None
    devices: list[Any] = []
    if token.isdigit():
        devices += list(TOTPDevice.objects.filter(user=user, confirmed=True))
    else:
        devices += list(StaticDevice.objects.filter(user=user, confirmed=True))
    for device in devices:
        with transaction.atomic():
            locked = type(device).objects.select_for_update().get(pk=device.pk)
            if locked.verify_token(token):
                return locked
    return None


def turn_off(user: Any, *, by: Any = None) -> None:
    """Remove every device (the user turning it off, or staff after a lost phone)."""
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    record(
        "two_factor.reset" if by is not None and by != user else "two_factor.disable",
        target=user,
        actor=by or user,
    )


def required_by(user: Any) -> list[str]:
    """Why this user may not turn two-factor off: staff, or a clinic that requires it."""
    reasons = []
    if getattr(user, "is_staff", False):
        reasons.append("Switchboard staff accounts")
    reasons += list(
        ClinicTwoFactorPolicy.objects.filter(
            required=True, clinic__memberships__user=user
        ).values_list("clinic__name", flat=True)
    )
    return reasons


def clinic_requires(clinic: Any) -> bool:
    return ClinicTwoFactorPolicy.objects.filter(clinic=clinic, required=True).exists()


def set_clinic_requirement(*, clinic: Any, actor: Any, required: bool) -> ClinicTwoFactorPolicy:
    policy, _ = ClinicTwoFactorPolicy.objects.get_or_create(clinic=clinic)
    if policy.required != required:
        policy.required = required
        policy.changed_by = actor
        policy.save()
        record(
            "clinic.two_factor_required" if required else "clinic.two_factor_optional",
            clinic=clinic,
            actor=actor,
            changes={"two_factor_required": [not required, required]},
        )
    return policy
