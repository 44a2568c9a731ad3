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
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base
from psycopg import pq


class DatabaseWrapper(base.DatabaseWrapper):
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
