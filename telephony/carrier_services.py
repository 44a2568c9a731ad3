"""Connecting and disconnecting a clinic's carrier account (Twilio, Telnyx), and listing the
numbers it owns (docs/carriers.md).

Credentials are checked with read calls before anything is saved, and refused with a
sentence naming the field; a carrier that does not answer saves nothing either. They are
stored encrypted (``CarrierAccount.secret``), never logged, never shown back, never put in
the audit log. Errors are ``ValidationError`` with field names, like telephony.services.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.recorder import record
from telephony.carriers import (
    AccountNumber,
    CarrierCredentialsError,
    CarrierError,
    CarrierPermissionError,
    CarrierTransientError,
    client_for,
    make_client,
)
from telephony.models import CarrierAccount, PhoneNumber, Provisioning
from telephony.provisioning_requests import request_provisioning
from tenants.models import Clinic, User

ACCOUNT_SID_RE = re.compile(r"^AC[0-9a-fA-F]{32}$")
API_KEY_SID_RE = re.compile(r"^SK[0-9a-fA-F]{32}$")
SECRET_RE = re.compile(r"^[\x21-\x7e]{8,200}$")  # printable, no spaces
PROVIDERS = {"twilio": "Twilio", "telnyx": "Telnyx"}


@dataclass(frozen=True)
class Credentials:
    provider: str
    account_sid: str = ""
    api_key_sid: str = ""
    secret: str = ""


def _clean(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def parse_credentials(
    *,
    provider: object,
    account_sid: object = "",
    auth_token: object = "",
    api_key_sid: object = "",
    api_key_secret: object = "",
    api_key: object = "",
) -> Credentials:
    """Check the shape of what was typed, naming the field, before any call is made."""
    name = _clean(provider).lower()
    if name not in PROVIDERS:
        raise ValidationError({"provider": 'Choose "twilio" or "telnyx".'})
    if name == "telnyx":
        key = _clean(api_key)
        if not key:
            raise ValidationError({"api_key": "Paste your Telnyx API v2 key."})
        if not SECRET_RE.match(key):
            raise ValidationError({"api_key": "That does not look like a Telnyx API key."})
        return Credentials("telnyx", secret=key)
    sid, token = _clean(account_sid), _clean(auth_token)
    key_sid, key_secret = _clean(api_key_sid), _clean(api_key_secret)
    if not ACCOUNT_SID_RE.match(sid):
        raise ValidationError(
            {"account_sid": "A Twilio account SID starts with AC and has 34 characters."}
        )
    if token and (key_sid or key_secret):
        raise ValidationError(
            {"auth_token": "Give either the auth token or an API key and its secret, not both."}
        )
    if key_sid or key_secret:
        if not API_KEY_SID_RE.match(key_sid):
            raise ValidationError(
                {"api_key_sid": "A Twilio API key SID starts with SK and has 34 characters."}
            )
        if not SECRET_RE.match(key_secret):
            raise ValidationError({"api_key_secret": "Paste the API key's secret."})
        return Credentials("twilio", account_sid=sid, api_key_sid=key_sid, secret=key_secret)
    if not SECRET_RE.match(token):
        raise ValidationError({"auth_token": "Paste the account's auth token, or an API key."})
    return Credentials("twilio", account_sid=sid, secret=token)


def _secret_field(creds: Credentials) -> str:
    if creds.provider == "telnyx":
        return "api_key"
    return "api_key_secret" if creds.api_key_sid else "auth_token"


def check_credentials(creds: Credentials) -> None:
    """The read calls that prove the credentials; a refusal is a ValidationError."""
    client = make_client(
        creds.provider,
        account_sid=creds.account_sid,
        api_key_sid=creds.api_key_sid,
        secret=creds.secret,
    )
    carrier = PROVIDERS[creds.provider]
    try:
        client.check()
    except CarrierPermissionError as exc:
        raise ValidationError({_secret_field(creds): exc.message}) from None
    except CarrierCredentialsError as exc:
        raise ValidationError({_secret_field(creds): exc.message}) from None
    except CarrierTransientError:
        raise ValidationError(
            f"{carrier} did not answer just now, so nothing was saved. Try again in a minute."
        ) from None
    except CarrierError as exc:
        raise ValidationError(f"{carrier} refused the check: {exc.message}") from None


def carrier_connect(*, clinic: Clinic, creds: Credentials, actor: User | None) -> CarrierAccount:
    """Check, then save (replacing the credentials of the same carrier). Switching carrier
    needs a disconnect first, so that what was set up at the first one is removed."""
    current = CarrierAccount.objects.filter(clinic=clinic).first()
    if current is not None and current.provider != creds.provider:
        raise ValidationError(
            {
                "provider": f"This clinic is connected to {current.get_provider_display()}. "
                "Disconnect it first."
            }
        )
    check_credentials(creds)
    listed = _read_numbers(creds)
    with transaction.atomic():
        account, created = CarrierAccount.objects.select_for_update().get_or_create(
            clinic=clinic,
            defaults={"provider": creds.provider, "secret": creds.secret},
        )
        account.account_sid = creds.account_sid
        account.api_key_sid = creds.api_key_sid
        account.secret = creds.secret
        account.state = CarrierAccount.State.CONNECTED
        account.status_message = ""
        account.checked_at = timezone.now()
        if listed is not None:
            _remember(account, listed)
        account.save()
        record(
            "carrier.connected" if created else "carrier.credentials_changed",
            clinic=clinic,
            target=account,
            actor=actor,
            extra={"provider": creds.provider, "account": account.identifier},
        )
        # The engine sets up (or, with fixed credentials, resumes) the carrier side.
        request_provisioning(clinic, reason="carrier account connected", actor=actor)
    return account


def carrier_disconnect(*, clinic: Clinic, actor: User | None) -> bool:
    """Remove what Switchboard created at the carrier (never the numbers), then forget the
    credentials. With nothing set up there, they are forgotten at once; otherwise the
    account is ``disconnecting`` until the engine has removed the trunk with them
    (``forget_disconnected``). False if nothing was connected."""
    with transaction.atomic():
        account = CarrierAccount.objects.select_for_update().filter(clinic=clinic).first()
        if account is None:
            return False
        record(
            "carrier.disconnected",
            clinic=clinic,
            target=clinic,
            actor=actor,
            extra={"provider": account.provider, "account": account.identifier},
        )
        prov = Provisioning.objects.filter(clinic=clinic).first()
        if prov is None or not (prov.carrier_trunk_id or prov.carrier_intent):
            account.delete()
            return True
        account.state = CarrierAccount.State.DISCONNECTING
        account.status_message = ""
        account.save(update_fields=["state", "status_message", "updated_at"])
        request_provisioning(clinic, reason="carrier account disconnected", actor=actor)
    return True


def carrier_confirm_by_hand(*, clinic: Clinic, confirmed: bool) -> None:
    """ "I've configured my carrier" (or taking it back), for clinics that set it up by hand:
    the checklist then stops waiting for the carrier (telephony/carrier_readiness.py)."""
    from telephony.models import TrunkSettings

    with transaction.atomic():
        ts, _ = TrunkSettings.objects.select_for_update().get_or_create(clinic=clinic)
        if bool(ts.carrier_confirmed_at) == confirmed:
            return
        ts.carrier_confirmed_at = timezone.now() if confirmed else None
        ts.save(update_fields=["carrier_confirmed_at", "updated_at"])  # audited as a change


def forget_disconnected(clinic_id: Any) -> None:
    """The engine's last step of a disconnect: nothing of ours is left at the carrier, so
    the credentials go."""
    CarrierAccount.objects.filter(
        clinic_id=clinic_id, state=CarrierAccount.State.DISCONNECTING
    ).delete()


def _read_numbers(creds: Credentials) -> list[AccountNumber] | None:
    """The account's numbers right after the check; None if the carrier did not answer
    (the numbers page reads them again)."""
    client = make_client(
        creds.provider,
        account_sid=creds.account_sid,
        api_key_sid=creds.api_key_sid,
        secret=creds.secret,
    )
    try:
        return client.numbers()
    except CarrierError:
        return None


def _remember(account: CarrierAccount, listed: list[AccountNumber]) -> None:
    account.numbers_seen = {
        n.e164: {
            "id": n.carrier_id,
            "attached_to": n.attached_to,
            "usable": n.usable,
            "why_not": n.why_not,
        }
        for n in listed
    }
    account.numbers_seen_at = timezone.now()


def refusal_for_number(*, clinic: Clinic, e164: str) -> str:
    """Why ``e164`` cannot be one of the clinic's numbers given its connected carrier
    account, from the account's last read (no request): a number the account has that
    cannot take voice calls, or one another trunk or connection of the account receives
    calls for. "" when nothing is known against it (the engine checks again before it
    attaches)."""
    account = CarrierAccount.objects.filter(
        clinic=clinic, state=CarrierAccount.State.CONNECTED
    ).first()
    entry = (account.numbers_seen or {}).get(e164) if account is not None else None
    if account is None or not entry:
        return ""
    name = account.get_provider_display()
    if not entry.get("usable", True):
        why = entry.get("why_not") or "It cannot take voice calls."
        return f"{e164} cannot answer calls through Switchboard: {why}"
    prov = Provisioning.objects.filter(clinic=clinic).first()
    ours = prov.carrier_trunk_id if prov is not None else ""
    holder = entry.get("attached_to")
    if holder and holder != ours:
        return (
            f"{e164} already sends its calls to something else in your {name} account. "
            "Switchboard does not take it over: change it there first, then add it here."
        )
    return ""


@dataclass(frozen=True)
class NumberChoice:
    """One number of the account as the admin picks it."""

    e164: str
    usable: bool
    why_not: str
    attached_elsewhere: bool
    chosen: bool


def account_numbers(*, clinic: Clinic) -> list[NumberChoice]:
    """The account's numbers, read from the carrier now; a failure is a ValidationError
    (the credentials problem is also remembered on the account)."""
    account = CarrierAccount.objects.filter(clinic=clinic).first()
    if account is None:
        raise ValidationError("Connect a carrier account first.")
    try:
        listed: list[AccountNumber] = client_for(account).numbers()
    except CarrierCredentialsError as exc:
        CarrierAccount.objects.filter(pk=account.pk).update(
            state=CarrierAccount.State.CREDENTIALS_REJECTED, status_message=exc.message
        )
        raise ValidationError(exc.message) from None
    except CarrierError as exc:
        raise ValidationError(exc.message) from None
    _remember(account, listed)
    account.save(update_fields=["numbers_seen", "numbers_seen_at", "updated_at"])
    chosen = set(PhoneNumber.objects.for_clinic(clinic).values_list("e164", flat=True))
    return [
        NumberChoice(
            e164=n.e164,
            usable=n.usable,
            why_not=n.why_not,
            attached_elsewhere=n.attached_to is not None,
            chosen=n.e164 in chosen,
        )
        for n in sorted(listed, key=lambda n: n.e164)
    ]


def carrier_status(*, clinic: Clinic) -> dict[str, object]:
    """What GET .../carrier/ and the dashboard show: never a credential. ``numbers`` are the
    clinic's numbers as the account was last read: whether the account has each one, and
    whether it is attached to a trunk or connection that is not the clinic's."""
    account = CarrierAccount.objects.filter(clinic=clinic).first()
    if account is None:
        return {"provider": None, "state": "not_connected", "numbers": []}
    seen = account.numbers_seen or {}
    prov = Provisioning.objects.filter(clinic=clinic).first()
    trunk_id = prov.carrier_trunk_id if prov is not None else ""
    # The trunk's recorded spec holds the numbers: while converged, they are attached.
    settled = bool(trunk_id) and prov is not None and prov.converged
    numbers = []
    for e164 in PhoneNumber.objects.for_clinic(clinic).values_list("e164", flat=True):
        entry = seen.get(e164)
        holder = entry.get("attached_to") if entry else None
        numbers.append(
            {
                "e164": e164,
                "in_account": entry is not None,
                "attached": settled,
                "attached_elsewhere": bool(holder) and holder != trunk_id and not settled,
            }
        )
    return {
        "provider": account.provider,
        "state": account.state,
        "trunk_id": trunk_id,
        "account": account.identifier,
        "status_message": account.status_message,
        "connected_at": account.connected_at,
        "numbers_checked_at": account.numbers_seen_at,
        "numbers": numbers,
    }
