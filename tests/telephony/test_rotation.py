"""Encryption at rest and key rotation, end to end."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from telephony import services
from telephony.crypto import _fernet_for
from telephony.models import TrunkSettings

pytestmark = pytest.mark.django_db


def raw_password(clinic) -> str:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT auth_password FROM telephony_trunksettings WHERE clinic_id = %s", [clinic.pk]
        )
        return cur.fetchone()[0]


def test_rotation_re_encrypts_under_the_new_key(clinic, settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    services.trunk_settings_update(
        clinic=clinic, auth_username="u", auth_password="r0tate-me-please"
    )
    before = raw_password(clinic)
    assert Fernet(old.encode()).decrypt(before.encode()) == b"r0tate-me-please"

    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    call_command("rotate_encryption_keys")
    after = raw_password(clinic)

    assert after != before and after.startswith("gAAAAA")
    settings.FIELD_ENCRYPTION_KEYS = [new]  # the old key is gone now
    assert TrunkSettings.objects.get(clinic=clinic).auth_password == "r0tate-me-please"
    _fernet_for.cache_clear()


def test_a_removed_key_gives_a_clear_error(clinic, settings):
    from django.core.exceptions import ImproperlyConfigured

    services.trunk_settings_update(
        clinic=clinic, auth_username="u", auth_password="lost-key-secret"
    )
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(ImproperlyConfigured, match="rotate_encryption_keys"):
        TrunkSettings.objects.get(clinic=clinic).auth_password
