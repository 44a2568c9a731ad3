"""Django's PostgreSQL backend with a health check that costs no round trip when it can.

With `CONN_HEALTH_CHECKS`, Django sends `SELECT 1` before the first statement of every
request that uses the database. On the call-time paths that is one statement in two (the
agent's pickup 304) or one in six (a LiveKit webhook). A connection the server has closed —
a PostgreSQL restart, an administrator's `pg_terminate_backend`, an idle timeout — tells
the client so: the backend sends its FATAL message and closes the socket, and the idle
socket becomes readable. So the check here first asks the kernel, without waiting, whether
anything arrived on the idle connection: nothing means the server has not gone away, and the
request's first real statement is sent at once; anything at all (the server's goodbye, a
notice, a notification) falls back to Django's `SELECT 1`, which then decides as before.
A server that vanished without a word (a host lost, a cable cut) is noticed by neither
check before the first statement (docs/decisions/0140).

`prepared_cursor()` is Django's cursor (health check, error wrapping, query logging) over a
psycopg cursor that binds parameters on the server and prepares each statement on its
connection: for the few constant statements of the call-time paths, PostgreSQL parses and
plans them once per connection instead of at every request (decision 0142).
"""

from __future__ import annotations

import select
from typing import Any

from django.db.backends.postgresql import base, operations
from django.db.backends.utils import CursorWrapper
from psycopg import pq

# psycopg prepares a statement after this many runs on one connection. Django turns that off
# (None), which also refuses explicit `prepare=True`; so: only the statements a caller asks
# for (prepared_cursor) are prepared, any other one would need to run 2**31 times first.
ONLY_WHEN_ASKED = 2**31 - 1


class DatabaseOperations(operations.DatabaseOperations):
    def last_executed_query(self, cursor: Any, sql: Any, params: Any) -> Any:
        if isinstance(cursor, PreparingCursor):  # bound on the server: the text as sent
            return sql
        return super().last_executed_query(cursor, sql, params)


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations

    def get_connection_params(self) -> dict[str, Any]:
        params: dict[str, Any] = super().get_connection_params()
        if params.get("prepare_threshold") is None:
            params["prepare_threshold"] = ONLY_WHEN_ASKED
        return params

    def close_if_health_check_failed(self) -> None:
        if (
            not self.pool
            and self.connection is not None
            and self.health_check_enabled
            and not self.health_check_done
            and idle_and_quiet(self.connection)
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

    def prepared_cursor(self) -> CursorWrapper:
        self.close_if_health_check_failed()
        self.ensure_connection()
        with self.wrap_database_errors:
            cursor = PreparingCursor(self.connection)
        tzloader = self.connection.adapters.get_loader(base.TIMESTAMPTZ_OID, base.Format.TEXT)
        if self.timezone != tzloader.timezone:
            base.register_tzloader(self.timezone, cursor)
        return self._prepare_cursor(cursor)


class PreparingCursor(base.ServerBindingCursor):
    """Binds on the server and prepares every statement it runs (Django turns psycopg's
    automatic preparation off for the connection: prepare_threshold=None)."""

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        kwargs["prepare"] = True
        return super().execute(query, params, **kwargs)


def idle_and_quiet(connection: object) -> bool:
    """Whether the connection is open, outside a transaction, and nothing has arrived on its
    socket since the last answer was read (a poll with a zero timeout: no waiting)."""
    pgconn = getattr(connection, "pgconn", None)
    if pgconn is None or getattr(connection, "closed", True):
        return False
    if pgconn.status != pq.ConnStatus.OK:
        return False
    if pgconn.transaction_status != pq.TransactionStatus.IDLE:
        return False
    try:
        fd = pgconn.socket
    except Exception:  # psycopg raises when the connection has no socket any more
        return False
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP)
    return not poller.poll(0)
