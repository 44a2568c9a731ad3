"""Re-encrypt every secret at rest under the first key of FIELD_ENCRYPTION_KEYS: carrier
passwords and LiveKit projects' API and webhook secrets.

Rotation: put the new key first in FIELD_ENCRYPTION_KEYS (keep the old ones after it), restart,
run this command, then remove the old keys.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import connection, transaction

from telephony.crypto import EncryptedTextField, rotate
from telephony.models import CarrierAccount, LiveKitProject, TrunkSettings

ENCRYPTED_MODELS = (TrunkSettings, LiveKitProject, CarrierAccount)


class Command(BaseCommand):
    help = "Re-encrypt stored secrets with the current (first) FIELD_ENCRYPTION_KEYS key."

    def handle(self, *args: Any, **options: Any) -> None:
        total = 0
        for model in ENCRYPTED_MODELS:
            fields = [f for f in model._meta.get_fields() if isinstance(f, EncryptedTextField)]
            table = connection.ops.quote_name(model._meta.db_table)
            for field in fields:
                column = connection.ops.quote_name(str(field.column))
                total += self._rotate_column(table, column)
        self.stdout.write(f"Re-encrypted {total} value(s) under the current key.")

    def _rotate_column(self, table: str, column: str) -> int:
        count = 0
        with transaction.atomic(), connection.cursor() as cur:
            # Raw SQL on purpose: the ciphertext is rotated without ever holding plaintext.
            cur.execute(f"SELECT id, {column} FROM {table} WHERE {column} <> ''")  # noqa: S608  # nosec B608 (quoted model names)
            for pk, token in cur.fetchall():
                cur.execute(
                    f"UPDATE {table} SET {column} = %s WHERE id = %s",  # noqa: S608  # nosec B608
                    [rotate(token), pk],
                )
                count += 1
        return count
