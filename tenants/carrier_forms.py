"""The forms of the carrier step that connect a carrier account (telephony/carrier_services)."""

from __future__ import annotations

from typing import Any

from django import forms

from tenants.forms import WebForm


def _secret(label: str, help_text: str) -> forms.CharField:
    # Write-only: never rendered back, not even when the form comes back with an error.
    return forms.CharField(
        label=label,
        max_length=200,
        required=False,
        strip=True,
        help_text=help_text,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}, render_value=False),
    )


def _text(label: str, help_text: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=40,
        required=False,
        help_text=help_text,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )


class TwilioConnectForm(WebForm):
    provider = "twilio"
    account_sid = _text("Account SID", "Starts with AC. It is on your Twilio Console's home page.")
    auth_token = _secret(
        "Auth token",
        "Next to the account SID. Or leave this empty and give an API key below.",
    )
    api_key_sid = _text("API key SID (instead of the auth token)", "Starts with SK.")
    api_key_secret = _secret("API key secret", "Shown once, when the key was created.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "twilio")
        super().__init__(*args, **kwargs)


class TelnyxConnectForm(WebForm):
    provider = "telnyx"
    api_key = _secret(
        "API key",
        "An API v2 key: in the Telnyx Portal, Account settings, then Keys & credentials.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "telnyx")
        super().__init__(*args, **kwargs)


class NumberPickForm(WebForm):
    """The account's numbers the receptionist should answer (checkboxes)."""

    numbers = forms.MultipleChoiceField(
        label="Numbers",
        required=True,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Tick at least one number."},
    )

    def __init__(self, *args: Any, choices: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["numbers"].choices = choices


class NumberSearchForm(WebForm):
    """Search numbers on sale at the connected carrier (telephony/number_purchases.py)."""

    country = forms.CharField(
        label="Country",
        max_length=2,
        initial="US",
        help_text="Two letters, like US or CA.",
        widget=forms.TextInput(attrs={"autocomplete": "country", "size": 3}),
    )
    area_code = forms.CharField(
        label="Area code",
        max_length=5,
        required=False,
        help_text="Optional, like 415.",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "size": 6}),
    )
    contains = forms.CharField(
        label="Contains",
        max_length=10,
        required=False,
        help_text="Optional: digits the number should contain.",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "size": 10}),
    )
    number_type = forms.ChoiceField(
        label="Kind of number",
        choices=[
            ("local", "Local (a town's area code)"),
            ("toll_free", "Toll-free (free for callers)"),
            ("mobile", "Mobile (where the carrier sells them)"),
        ],
        initial="local",
        required=False,
        help_text="Toll-free numbers cost more each month; their area code is like 800 or 888.",
    )


class PurchaseConfirmForm(WebForm):
    """The confirmation that buying costs money; ``key`` makes a second click the same
    purchase."""

    e164 = forms.CharField(widget=forms.HiddenInput, max_length=20)
    key = forms.CharField(widget=forms.HiddenInput, max_length=100)
    monthly_cost = forms.RegexField(
        regex=r"^[0-9]{1,8}(\.[0-9]{1,4})?$", widget=forms.HiddenInput, required=False
    )
    currency = forms.RegexField(regex=r"^[A-Z]{3}$", widget=forms.HiddenInput, required=False)
    confirm_cost = forms.BooleanField(
        label="I understand that my carrier charges my account for this number.",
        error_messages={"required": "Tick the box to confirm you accept the charge."},
    )


class ReleaseConfirmForm(WebForm):
    """The confirmation that releasing a bought number cannot be undone."""

    e164 = forms.CharField(widget=forms.HiddenInput, max_length=20)
    confirm_release = forms.BooleanField(
        label="I understand that this number goes back to my carrier and cannot be recovered.",
        error_messages={"required": "Tick the box to confirm the number goes back for good."},
    )
