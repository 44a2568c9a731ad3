"""Model instances from one constant statement, prepared on the connection (decision 0142).

The call-time paths run a few hand-written statements at every request (the webhook's clinic
lookup and call upsert). `Model.objects.raw` would send them through a client-binding cursor,
so PostgreSQL would parse and plan them again each time; here they go through the database
backend's preparing cursor (config/postgresql), and the rows become model instances the way
`raw` makes them: the model's columns as fields, any other column as an attribute.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from django.db import connection
from django.db.models import Model

M = TypeVar("M", bound=Model)


def column_names(cursor: Any) -> list[str]:
    """The result's column names. psycopg's `description` builds a Column object per column
    (about 60 µs for the clinic row's 40); the names alone are read from the result."""
    result = getattr(cursor, "pgresult", None)
    if result is None:  # not psycopg 3 (never in this project; kept for `connection.cursor`)
        return [column.name for column in cursor.description]
    encoding = cursor.connection.info.encoding
    return [(result.fname(i) or b"").decode(encoding) for i in range(result.nfields)]


def model_rows(model: type[M], sql: str, params: Mapping[str, Any]) -> list[M]:
    prepared = getattr(connection, "prepared_cursor", None)
    with prepared() if prepared is not None else connection.cursor() as cur:
        cur.execute(sql, params)
        names = column_names(cur)
        rows = cur.fetchall()
    index = {name: i for i, name in enumerate(names)}
    # In the model's field order, which `from_db` relies on (a table's column order may differ).
    present = [f for f in model._meta.concrete_fields if f.column in index]
    attnames = [f.attname for f in present]
    columns = [index[str(f.column)] for f in present]
    converters = [
        (j, f.from_db_value) for j, f in enumerate(present) if hasattr(f, "from_db_value")
    ]
    model_columns = {f.column for f in present}
    extra = [name for name in names if name not in model_columns]
    out = []
    for row in rows:
        values = [row[i] for i in columns]
        for j, convert in converters:
            values[j] = convert(values[j], None, connection)
        obj = model.from_db(connection.alias, attnames, values)
        for name in extra:
            setattr(obj, name, row[index[name]])
        out.append(obj)
    return out
