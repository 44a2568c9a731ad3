"""Changing which receptionist answers a number locks the receptionist and the number, never
the clinic row: a provisioning run committing at the same time checks its rows' foreign key
to the clinic (FOR KEY SHARE), and a clinic locked FOR UPDATE by the change (through the
receptionists' ordering by clinic, a join) deadlocked with it (found by tests/e2e/test_lines.py).
"""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection, transaction

from telephony import receptionists, services

pytestmark = pytest.mark.django_db(transaction=True)
NUMBER = "+14155550199"


def key_share_free(table: str, pk: object) -> bool:
    """Whether another connection can take FOR KEY SHARE on the row now (an FK check)."""
    db = connection.settings_dict
    dsn = f"host={db['HOST']} port={db['PORT']} user={db['USER']} dbname={db['NAME']}"
    with psycopg.connect(dsn, autocommit=True) as other:
        try:
            other.execute(f"SELECT 1 FROM {table} WHERE id = %s FOR KEY SHARE NOWAIT", [pk])
        except psycopg.errors.LockNotAvailable:
            return False
    return True


def test_assigning_a_number_or_deleting_a_receptionist_leaves_the_clinic_row_unlocked(
    clinic, owner
):
    services.phone_number_add(clinic=clinic, number=NUMBER)
    services.clinic_go_live(clinic=clinic, actor=owner)
    other = receptionists.receptionist_create(clinic=clinic, name="Other")
    with transaction.atomic():
        receptionists.phone_number_assign(clinic=clinic, e164=NUMBER, receptionist=other)
        assert key_share_free("tenants_clinic", clinic.pk)
        assert not key_share_free("telephony_receptionist", other.pk)  # it is held
    with transaction.atomic():
        receptionists.receptionist_update(receptionist=other, greeting="Hello there")
        assert key_share_free("tenants_clinic", clinic.pk)
    with transaction.atomic():
        receptionists.receptionist_delete(receptionist=other)
        assert key_share_free("tenants_clinic", clinic.pk)


def test_adding_a_receptionist_or_a_location_leaves_foreign_key_checks_free(clinic, owner):
    """One add at a time per clinic (FOR NO KEY UPDATE on the clinic), but a provisioning
    run's foreign-key checks on the clinic (FOR KEY SHARE) are not blocked by it."""
    from frontdesk.locations import location_create

    services.phone_number_add(clinic=clinic, number=NUMBER)
    services.clinic_go_live(clinic=clinic, actor=owner)
    with transaction.atomic():
        receptionists.receptionist_create(clinic=clinic, name="Spanish line")
        assert key_share_free("tenants_clinic", clinic.pk)
    with transaction.atomic():
        location_create(clinic=clinic, name="Downtown")
        assert key_share_free("tenants_clinic", clinic.pk)
    with transaction.atomic():
        services.clinic_suspend(clinic=clinic, actor=owner)
        assert key_share_free("tenants_clinic", clinic.pk)
