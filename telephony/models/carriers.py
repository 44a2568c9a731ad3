"""A clinic's connected carrier account (Twilio or Telnyx): what the platform needs to set up
the carrier side for the clinic. Without one, the clinic configures its carrier by hand."""

from __future__ import annotations

from django.db import models

from telephony.crypto import EncryptedTextField
from telephony.models.setup import ClinicScopedManager
from tenants.models import Clinic


class CarrierAccount(models.Model):
    """Credentials are write-only: ``secret`` (the auth token, the API key's secret or the
    Telnyx API key) is encrypted at rest and never shown back; the SIDs are identifiers."""

    class Provider(models.TextChoices):
        TWILIO = "twilio", "Twilio"
        TELNYX = "telnyx", "Telnyx"

    class State(models.TextChoices):
        CONNECTED = "connected", "Connected"
        CREDENTIALS_REJECTED = "credentials_rejected", "Credentials rejected"
        # Disconnect asked for: the engine removes what it created at the carrier with
        # these credentials, then the row (and so the credentials) is deleted.
        DISCONNECTING = "disconnecting", "Disconnecting"

    clinic = models.OneToOneField(Clinic, on_delete=models.CASCADE, related_name="carrier_account")
    provider = models.CharField(max_length=10, choices=Provider.choices)
    account_sid = models.CharField(max_length=34, blank=True)
    api_key_sid = models.CharField(max_length=34, blank=True)
    secret = EncryptedTextField()
    state = models.CharField(max_length=24, choices=State.choices, default=State.CONNECTED)
    status_message = models.CharField(max_length=300, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    # The account's numbers as last read from the carrier: {e164: {"id", "attached_to",
    # "usable", "why_not"}}; what the dashboard and GET .../carrier/ show between reads.
    numbers_seen = models.JSONField(default=dict, blank=True)
    numbers_seen_at = models.DateTimeField(null=True, blank=True)
    connected_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ClinicScopedManager()

    def __str__(self) -> str:
        return f"{self.get_provider_display()} account of {self.clinic}"

    @property
    def identifier(self) -> str:
        """What identifies the account to its admin, never a secret or a part of one: the
        account SID (and API key SID) for Twilio; for Telnyx only that a key is saved."""
        if self.provider == self.Provider.TWILIO:
            key = f" (API key {self.api_key_sid})" if self.api_key_sid else ""
            return self.account_sid + key
        return "API v2 key saved"
