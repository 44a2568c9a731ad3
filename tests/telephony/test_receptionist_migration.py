"""The data migration (telephony 0007/0008): today's agent config becomes the first
receptionist in place, nothing lost, its version kept; every number is assigned to it."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("telephony", "0006_carrier_account")]
AFTER = [("telephony", "0008_number_receptionist_required")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_the_agent_config_becomes_the_first_receptionist_and_numbers_follow():
    old = _migrate(BEFORE)
    try:
        Clinic = old.get_model("tenants", "Clinic")
        AgentConfig = old.get_model("telephony", "AgentConfig")
        PhoneNumber = old.get_model("telephony", "PhoneNumber")
        with_config = Clinic.objects.create(
            id=uuid.uuid4(), name="Configured", slug="configured", room_prefix="configured"
        )
        without = Clinic.objects.create(
            id=uuid.uuid4(), name="Bare", slug="bare", room_prefix="bare-one"
        )
        config = AgentConfig.objects.create(
            clinic=with_config,
            greeting="Hello from v7",
            instructions="Be kind.",
            language="es-ES",
            version=7,
        )
        PhoneNumber.objects.create(clinic=with_config, e164="+14155550100")
        PhoneNumber.objects.create(clinic=with_config, e164="+14155550101")
        PhoneNumber.objects.create(clinic=without, e164="+14155550102")

        new = _migrate(AFTER)
        Receptionist = new.get_model("telephony", "Receptionist")
        PhoneNumber = new.get_model("telephony", "PhoneNumber")
        first = Receptionist.objects.get(clinic_id=with_config.pk)
        assert first.pk == config.pk  # the same row: its audit history still points at it
        assert (first.name, first.slug, first.version) == ("Main line", "main", 7)
        assert (first.greeting, first.language) == ("Hello from v7", "es-ES")
        made = Receptionist.objects.get(clinic_id=without.pk)
        assert (made.name, made.slug, made.version) == ("Main line", "main", 1)
        assert "Bare" in made.greeting
        assert dict(PhoneNumber.objects.values_list("e164", "receptionist_id")) == {
            "+14155550100": first.pk,
            "+14155550101": first.pk,
            "+14155550102": made.pk,
        }
    finally:
        executor = MigrationExecutor(connection)
        _migrate(executor.loader.graph.leaf_nodes())  # back to the latest of every app
