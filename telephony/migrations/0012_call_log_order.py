"""The call log's order gets its index; the pattern-matching ("_like") copies of the call
table's text indexes go (decision 0100)."""

from django.db import migrations, models

# PostgreSQL builds a second, varchar_pattern_ops index beside every indexed or unique
# CharField, for LIKE 'abc%'. Nothing queries these columns by prefix (the admin's search is
# icontains, which no btree serves), yet every call row written updates them.
LIKE_INDEXES = (
    ("telephony_call_room_sid_ccd93808_like", "room_sid"),
    ("telephony_call_room_name_e9b2a24a_like", "room_name"),
    ("telephony_call_caller_number_8c35de93_like", "caller_number"),
)


class Migration(migrations.Migration):
    dependencies = [
        ("telephony", "0011_carrier_side"),
        ("tenants", "0007_clinic_livekit_project"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="call",
            options={"ordering": ["-started_at", "-created_at", "-id"]},
        ),
        migrations.AddIndex(
            model_name="call",
            index=models.Index(
                fields=["clinic", "-started_at", "-created_at", "-id"], name="call_log_order"
            ),
        ),
        *(
            migrations.RunSQL(
                sql=f'DROP INDEX IF EXISTS "{name}"',
                reverse_sql=(
                    f'CREATE INDEX IF NOT EXISTS "{name}" '
                    f'ON "telephony_call" ("{column}" varchar_pattern_ops)'
                ),
            )
            for name, column in LIKE_INDEXES
        ),
    ]
