"""provisioning.state_changed from a trigger on the phone line's state (decision 0051).

Replaces the sweeper's comparison (ProvisioningStateSeen): a trigger records every change
of telephony_provisioning.state, in the transaction that makes it, for clinics with an
enabled endpoint choosing the event; the webhook sweeper turns each record into an event.
PostgreSQL in production and tests; SQLite for `make run`'s embedded mode.
"""

import django.db.models.deletion
from django.db import migrations, models

POSTGRESQL = [
    """
    CREATE FUNCTION webhooks_record_provisioning_state() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF EXISTS (
            SELECT 1 FROM webhooks_webhookendpoint e
            WHERE e.clinic_id = NEW.clinic_id AND e.enabled
              AND e.events @> '["provisioning.state_changed"]'::jsonb
        ) THEN
            INSERT INTO webhooks_provisioningstatechange (clinic_id, previous, state, changed_at)
            VALUES (NEW.clinic_id, OLD.state, NEW.state, clock_timestamp());
        END IF;
        RETURN NULL;
    END;
    $$
    """,
    """
    CREATE TRIGGER webhooks_provisioning_state_changed
        AFTER UPDATE OF state ON telephony_provisioning
        FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state)
        EXECUTE FUNCTION webhooks_record_provisioning_state()
    """,
]
POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS webhooks_provisioning_state_changed ON telephony_provisioning",
    "DROP FUNCTION IF EXISTS webhooks_record_provisioning_state()",
]
SQLITE = [
    """
    CREATE TRIGGER webhooks_provisioning_state_changed
        AFTER UPDATE OF state ON telephony_provisioning
        FOR EACH ROW WHEN OLD.state IS NOT NEW.state AND EXISTS (
            SELECT 1 FROM webhooks_webhookendpoint e, json_each(e.events) chosen
            WHERE e.clinic_id = NEW.clinic_id AND e.enabled
              AND chosen.value = 'provisioning.state_changed'
        )
    BEGIN
        INSERT INTO webhooks_provisioningstatechange (clinic_id, previous, state, changed_at)
        VALUES (NEW.clinic_id, OLD.state, NEW.state, strftime('%Y-%m-%d %H:%M:%f', 'now'));
    END
    """,
]
SQLITE_DROP = ["DROP TRIGGER IF EXISTS webhooks_provisioning_state_changed"]


def _run(schema_editor, statements):
    for sql in statements:
        schema_editor.execute(sql, params=None)


def create_trigger(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    _run(schema_editor, {"postgresql": POSTGRESQL, "sqlite": SQLITE}[vendor])


def drop_trigger(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    _run(schema_editor, {"postgresql": POSTGRESQL_DROP, "sqlite": SQLITE_DROP}[vendor])


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0004_merge_console_and_teams"),
        ("telephony", "0004_call_outcomes_and_policy"),
        ("webhooks", "0001_initial"),
    ]

    operations = [
        migrations.DeleteModel(name="ProvisioningStateSeen"),
        migrations.CreateModel(
            name="ProvisioningStateChange",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("previous", models.CharField(max_length=16)),
                ("state", models.CharField(max_length=16)),
                ("changed_at", models.DateTimeField()),
                (
                    "clinic",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="tenants.clinic",
                    ),
                ),
            ],
            options={"ordering": ["id"]},
        ),
        migrations.RunPython(create_trigger, drop_trigger),
    ]
