"""API tokens stored hashed; the plain DRF tokens are hashed into them (decision 0020)."""

import hashlib

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def hash_plain_tokens(apps, schema_editor):
    """Django REST framework's authtoken kept each token in plain text (authtoken_token.key).
    Every one becomes an ApiToken holding only its SHA-256, with no expiry, so the scripts
    that use it keep working; then the plain rows are deleted (decision 0020)."""
    connection = schema_editor.connection
    if "authtoken_token" not in connection.introspection.table_names():
        return
    with connection.cursor() as cur:
        cur.execute("SELECT key, user_id, created FROM authtoken_token")
        rows = cur.fetchall()
    ApiToken = apps.get_model("tenants", "ApiToken")
    ApiToken.objects.bulk_create(
        [
            ApiToken(
                user_id=user_id,
                name="API token (from before tokens were hashed)",
                token_hash=hashlib.sha256(key.encode()).hexdigest(),
                prefix=key[:6],
                created_at=created,
                expires_at=None,
            )
            for key, user_id, created in rows
        ]
    )
    with connection.cursor() as cur:
        cur.execute("DELETE FROM authtoken_token")


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0005_invitation_email_status"),
    ]

    operations = [
        migrations.CreateModel(
            name="ApiToken",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=100)),
                ("token_hash", models.CharField(editable=False, max_length=64, unique=True)),
                ("prefix", models.CharField(editable=False, max_length=16)),
                (
                    "created_at",
                    models.DateTimeField(default=django.utils.timezone.now, editable=False),
                ),
                ("expires_at", models.DateTimeField(blank=True, editable=False, null=True)),
                ("last_used_at", models.DateTimeField(blank=True, editable=False, null=True)),
                ("revoked_at", models.DateTimeField(blank=True, editable=False, null=True)),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="api_tokens",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "API token",
                "ordering": ["-created_at"],
            },
        ),
        migrations.RunPython(hash_plain_tokens, migrations.RunPython.noop),
    ]
