"""The outbox's room_name loses its pattern-matching ("_like") index: nothing looks rooms up
by prefix, and each call event written to the outbox updated it (decision 0100)."""

from django.db import migrations

NAME = "webhooks_webhookevent_room_name_3af73f7a_like"


class Migration(migrations.Migration):
    dependencies = [("webhooks", "0002_provisioning_state_trigger")]

    operations = [
        migrations.RunSQL(
            sql=f'DROP INDEX IF EXISTS "{NAME}"',
            reverse_sql=(
                f'CREATE INDEX IF NOT EXISTS "{NAME}" '
                'ON "webhooks_webhookevent" ("room_name" varchar_pattern_ops)'
            ),
        ),
    ]
