"""How carrier objects say whose they are, and the names Switchboard gives them.

Twilio trunks and Telnyx connections have no metadata field, so the marker is their name:
``sb:<deployment>:<clinic id>`` (at most 64 characters, Twilio's limit for a friendly
name). An object whose name is not a marker of this deployment is never touched.
A Twilio trunk also needs a domain name under pstn.twilio.com that is unique across all of
Twilio and stays reserved for a while after the trunk is deleted; it is derived from the
deployment, the clinic and an incarnation number, so a clinic that comes back gets a new
one by counting up.
"""

from __future__ import annotations

import hashlib
import uuid

from django.conf import settings

PREFIX = "sb"
MAX_NAME = 64


def marker(clinic_id: uuid.UUID | str) -> str:
    name = f"{PREFIX}:{settings.SWITCHBOARD_DEPLOYMENT_ID}:{clinic_id}"
    if len(name) > MAX_NAME:
        raise ValueError("SWITCHBOARD_DEPLOYMENT_ID is too long for a carrier object's name")
    return name


def owner_of(name: str | None) -> str | None:
    """The clinic ID a name marks as this deployment's, else None."""
    prefix, _, rest = (name or "").partition(":")
    deployment, _, clinic_id = rest.rpartition(":")
    if prefix != PREFIX or deployment != settings.SWITCHBOARD_DEPLOYMENT_ID:
        return None
    try:
        return str(uuid.UUID(clinic_id))
    except ValueError:
        return None


def twilio_domain(clinic_id: uuid.UUID | str, incarnation: int = 1) -> str:
    """``sb-<deployment hash>-<clinic>-<n>.pstn.twilio.com``: letters, digits and dashes."""
    deployment = hashlib.sha256(settings.SWITCHBOARD_DEPLOYMENT_ID.encode()).hexdigest()[:6]
    clinic = uuid.UUID(str(clinic_id)).hex[:16]
    return f"{PREFIX}-{deployment}-{clinic}-{incarnation}.pstn.twilio.com"
