"""Invitations record whether their email went out; clinic names lose control characters."""

import unicodedata

from django.db import migrations, models
from django.db.models import F


def backfill(apps, schema_editor):
    # Invitations made before this migration: their email was attempted when they were made
    # and nothing recorded a failure, so count them as sent.
    Invitation = apps.get_model("tenants", "Invitation")
    Invitation.objects.filter(email_sent_at__isnull=True).update(email_sent_at=F("created_at"))
    # Names are one line of text now (tenants/text.py): turn control characters into spaces.
    Clinic = apps.get_model("tenants", "Clinic")
    for clinic in Clinic.objects.only("pk", "name").iterator():
        if any(unicodedata.category(ch) == "Cc" for ch in clinic.name):
            cleaned = "".join(
                " " if unicodedata.category(ch) == "Cc" else ch for ch in clinic.name
            )
            clinic.name = " ".join(cleaned.split()) or "Clinic"
            clinic.save(update_fields=["name"])


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0004_merge_console_and_teams"),
    ]

    operations = [
        migrations.AddField(
            model_name="invitation",
            name="email_failed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="invitation",
            name="email_sent_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
