"""The rows and events one commit of a batch writes: one UPDATE (executemany), one INSERT."""

from __future__ import annotations

from typing import Any

from django.db import connections

from telephony.models import Provisioning, ProvisioningEvent


class Writes:
    def __init__(self) -> None:
        self.rows: dict[Any, Provisioning] = {}
        self.fields: set[str] = set()
        self.events: list[ProvisioningEvent] = []

    def set(self, prov: Provisioning, **fields: Any) -> None:
        for name, value in fields.items():
            setattr(prov, name, value)
        self.fields.update(fields)
        self.rows[prov.pk] = prov

    def save(self) -> None:
        if self.rows:
            update_rows(list(self.rows.values()), sorted(self.fields))
        if self.events:
            ProvisioningEvent.objects.bulk_create(self.events)


def update_rows(rows: list[Provisioning], names: list[str]) -> None:
    """Write these fields of these rows: one parametrised UPDATE, sent with executemany.

    QuerySet.bulk_update builds a CASE expression per field and row, which cost more CPU
    than everything else in a batch; the rows are locked by the caller's transaction.
    """
    conn = connections[Provisioning.objects.db]
    quote = conn.ops.quote_name
    wanted = set(names)
    fields = [f for f in Provisioning._meta.concrete_fields if f.name in wanted]
    pk = Provisioning._meta.pk
    assert pk is not None and len(fields) == len(wanted)
    sets = ", ".join(f"{quote(str(f.column))} = %s" for f in fields)
    table, key = quote(Provisioning._meta.db_table), quote(str(pk.column))
    # Identifiers from the model's metadata, quoted; every value is a parameter.
    sql = f"UPDATE {table} SET {sets} WHERE {key} = %s"  # noqa: S608
    params = [
        [f.get_db_prep_save(getattr(row, f.attname), conn) for f in fields]
        + [pk.get_db_prep_value(row.pk, conn)]
        for row in rows
    ]
    with conn.cursor() as cursor:
        cursor.executemany(sql, params)
