"""Web forms: they validate and normalise input only; services decide and write.

Deeper rules (password strength, E.164 numbers, duplicates across clinics, address
syntax) live in the services, which raise ValidationError dicts naming the field;
`add_service_errors` puts those messages next to the matching field.
"""

from __future__ import annotations

from typing import Any

import phonenumbers
from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from telephony.models import Receptionist
from tenants import timezones
from tenants.models import Membership
from tenants.services import MAX_CLINIC_NAME


def add_service_errors(
    form: forms.Form, exc: ValidationError, aliases: dict[str, str] | None = None
) -> None:
    """Attach a service's ValidationError to the form, field by field.

    Services name fields by their own vocabulary (`clinic_name`, `e164`, ...); `aliases`
    maps a service name to a form field. Anything the form has no field for is shown as a
    form-wide error rather than dropped.
    """
    aliases = aliases or {}
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for name, errors in exc.message_dict.items():
        field = aliases.get(name, name)
        form.add_error(field if field in form.fields else None, errors)


class WebForm(forms.Form):
    """Our forms' base: labels without Django's trailing colon, and the first field with
    an error (from the form or from a service) gets the focus when the page comes back."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    def add_error(self, field: str | None, error: Any) -> None:
        super().add_error(field, error)
        first = next((name for name in self.fields if name in self._errors), None)
        for name, field in self.fields.items():
            if name == first:
                field.widget.attrs["autofocus"] = True
            else:
                field.widget.attrs.pop("autofocus", None)


class SignupForm(WebForm):
    email = forms.EmailField(
        label="Work email",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )
    password = forms.CharField(
        label="Password",
        strip=False,
        help_text="At least 8 characters; not a common password and not all digits.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    clinic_name = forms.CharField(
        label="Clinic name",
        max_length=MAX_CLINIC_NAME,
        widget=forms.TextInput(attrs={"autocomplete": "organization"}),
    )
    # Filled in by js/signup.js from the browser's own time zone; may be empty.
    timezone_name = forms.CharField(
        max_length=64, required=False, widget=forms.HiddenInput(attrs={"data-browser-tz": ""})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from telephony.projects import open_regions

        regions = open_regions()
        if len(regions) > 1:  # only then is there a choice to make (decision 0070)
            listed = ", ".join(regions)
            self.fields["region"] = forms.ChoiceField(
                label="Where your calls are handled",
                required=False,
                choices=[("", "No preference"), *((r, r.upper()) for r in regions)],
                help_text="The region whose LiveKit servers carry your calls and keep their data.",
                error_messages={"invalid_choice": f"Choose one of: {listed}."},
            )


class LoginForm(AuthenticationForm):
    """Django's login form, labelled for email sign-in."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["username"].label = "Email"
        self.fields["username"].widget.attrs.update({"autocomplete": "email", "type": "email"})
        self.fields["password"].widget.attrs.update({"autocomplete": "current-password"})


class ClinicNameForm(WebForm):
    clinic_name = forms.CharField(label="Clinic name", max_length=MAX_CLINIC_NAME)


class ClinicDetailsForm(WebForm):
    name = forms.CharField(label="Clinic name", max_length=MAX_CLINIC_NAME)
    timezone = forms.ChoiceField(
        label="Time zone",
        help_text="Every time on your clinic's pages is shown in this zone. Type a city or "
        "a country in the search box to find yours.",
        widget=forms.Select(attrs={"data-tz-picker": ""}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["timezone"].choices = timezones.choices()  # type: ignore[attr-defined]


class PhoneNumberAddForm(WebForm):
    e164 = forms.CharField(
        label="Phone number",
        max_length=64,
        help_text="International format with the country code, e.g. +1 415 555 0100.",
        # type=tel brings up the phone keypad on a phone (inputmode says so for older ones)
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"}),
    )
    label = forms.CharField(
        label="Label (optional)",
        max_length=60,
        required=False,
        help_text="For you, e.g. “Front desk”.",
    )

    def __init__(self, *args: Any, region: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if region:  # numbers typed without + are read in the clinic's country
            example = phonenumbers.example_number_for_type(
                region, phonenumbers.PhoneNumberType.FIXED_LINE
            )
            national = (
                phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)
                if example
                else ""
            )
            self.fields["e164"].help_text = (
                f"As you would dial it in your country ({region})"
                + (f", e.g. {national}" if national else "")
                + ", or with + and the country code for a number abroad."
            )


class PhoneNumberRemoveForm(WebForm):
    e164 = forms.CharField(max_length=16)


class CarrierSettingsForm(WebForm):
    allowed_addresses = forms.CharField(
        label="Carrier addresses",
        required=False,
        help_text="One per line: the addresses your carrier sends calls from (your carrier "
        "or IT person has them). Leave empty to accept calls from any address.",
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
    )
    auth_username = forms.CharField(
        label="Username (optional)",
        max_length=120,
        required=False,
        help_text="A username and password your carrier gives when it sends a call. Clear "
        "the username to stop asking for them.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    auth_password = forms.CharField(
        label="Password",
        max_length=200,
        required=False,
        strip=False,
        # Write-only: the stored password is never rendered back, not even on an error.
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}, render_value=False),
    )
    krisp_enabled = forms.BooleanField(
        label="Reduce background noise on calls",
        required=False,
        help_text="Filters out noise on the caller's side, such as traffic or a busy room.",
    )

    def __init__(self, *args: Any, password_set: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["auth_password"].help_text = (
            "A password is set. Leave this empty to keep it, or type a new one to replace it."
            if password_set
            else "No password is set."
        )

    def clean_allowed_addresses(self) -> list[str]:
        raw = self.cleaned_data.get("allowed_addresses") or ""
        return [line.strip() for line in raw.splitlines() if line.strip()]


class AgentSettingsForm(WebForm):
    greeting = forms.CharField(
        label="Greeting",
        max_length=500,
        help_text="The first thing callers hear.",
        # several lines, so the whole sentence shows on a phone (it is one paragraph)
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    instructions = forms.CharField(
        label="Instructions",
        max_length=8000,
        help_text="How the receptionist behaves. A dental-receptionist default is filled in.",
        widget=forms.Textarea(attrs={"rows": 8}),
    )
    language = forms.ChoiceField(label="Language", choices=Receptionist.Language.choices)
    voice = forms.ChoiceField(label="Voice", choices=Receptionist.Voice.choices)
    stt_model = forms.ChoiceField(label="Speech recognition", choices=Receptionist.SttModel.choices)
    llm_model = forms.ChoiceField(label="Language model", choices=Receptionist.LlmModel.choices)
    tts_model = forms.ChoiceField(label="Speech synthesis", choices=Receptionist.TtsModel.choices)
    recording_consent_required = forms.BooleanField(
        label="Ask callers for consent before recording",
        required=False,
    )


class ReceptionistForm(AgentSettingsForm):
    """A receptionist: its name, then the same settings as the agent step."""

    name = forms.CharField(
        label="Name",
        max_length=60,
        help_text="What your team calls this line, e.g. “Spanish line” or “Billing”.",
    )
    field_order = ("name",)


class ReceptionistDeleteForm(WebForm):
    move_to = forms.TypedChoiceField(
        label="Who answers its numbers from now on", coerce=int, choices=()
    )

    def __init__(self, *args: Any, others: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["move_to"].choices = others


class NumberAssignForm(WebForm):
    e164 = forms.CharField(max_length=16, widget=forms.HiddenInput)
    receptionist = forms.TypedChoiceField(label="Answered by", coerce=int, choices=())

    def __init__(self, *args: Any, receptionists: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["receptionist"].choices = receptionists


class OffboardForm(WebForm):
    confirm_name = forms.CharField(
        label="Type the clinic's name to confirm",
        max_length=MAX_CLINIC_NAME + 10,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    release_bought = forms.BooleanField(
        label="Also give the numbers Switchboard bought back to the carrier. They stop "
        "costing money and cannot be recovered.",
        required=False,
    )

    def __init__(self, *args: Any, clinic_name: str, bought: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clinic_name = clinic_name
        if not bought:  # nothing Switchboard bought: nothing to decide
            del self.fields["release_bought"]

    def clean_confirm_name(self) -> str:
        value = self.cleaned_data["confirm_name"].strip()
        if value.casefold() != self.clinic_name.strip().casefold():
            raise ValidationError("This does not match the clinic's name.")
        return value


# --- Team ---------------------------------------------------------------------------------

ROLE_HELP = (
    "Viewers see everything; admins also edit settings and go live; owners also manage the "
    "team and can offboard the clinic."
)


class InviteForm(WebForm):
    email = forms.EmailField(
        label="Email address",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
    role = forms.ChoiceField(
        label="Role", choices=Membership.Role.choices, initial="viewer", help_text=ROLE_HELP
    )


class RoleForm(WebForm):
    role = forms.ChoiceField(label="Role", choices=Membership.Role.choices)


class InvitationSignupForm(WebForm):
    """Accepting an invitation without an account: the email is the invited one."""

    password = forms.CharField(
        label="Choose a password",
        strip=False,
        help_text="At least 8 characters; not a common password and not all digits.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
