"""The database health check asks the socket before it pings (decision 0140): a quiet idle
connection costs no `SELECT 1`, and a connection the server closed (what a PostgreSQL
restart does to every backend) is replaced before the request's first statement."""

from __future__ import annotations

import select
import time
from unittest import mock

import psycopg
import pytest
from django.db import close_old_connections, connection, connections
from django.test import Client

from config.postgresql.base import DatabaseWrapper, idle_and_quiet
from telephony.agent_tokens import agent_token_create
from tenants.models import Clinic

pytestmark = pytest.mark.django_db(transaction=True)


def request_starts() -> None:
    """What every request's start does, with a persistent connection as production keeps one
    (CONN_MAX_AGE=60; the tests' own settings close it at each request)."""
    connection.close_at = time.monotonic() + 60
    close_old_connections()


def backend_pid() -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        return int(cur.fetchone()[0])


def other_session(sql: str, *args: object) -> object:
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as admin:
        return admin.execute(sql, args or None).fetchone()


def wait_readable() -> None:
    """What the server sends travels asynchronously: wait for it on our connection's socket
    (bounded; an event, not a sleep)."""
    poller = select.poll()
    poller.register(connection.connection.pgconn.socket, select.POLLIN | select.POLLHUP)
    assert poller.poll(10_000), "nothing arrived on the connection's socket"


def terminate(pid: int) -> None:
    """What a fast restart does to each backend: FATAL, then the socket closes."""
    assert other_session("SELECT pg_terminate_backend(%s)", pid) == (True,)
    wait_readable()


def test_the_backend_is_ours():
    assert isinstance(connections["default"], DatabaseWrapper)
    assert connection.settings_dict["CONN_HEALTH_CHECKS"] is True


def test_a_quiet_connection_is_used_without_a_ping():
    backend_pid()
    request_starts()
    assert idle_and_quiet(connection.connection)
    with mock.patch.object(DatabaseWrapper, "is_usable", side_effect=AssertionError("pinged")):
        backend_pid()


def test_a_connection_the_server_closed_is_replaced_before_the_first_statement():
    old = backend_pid()
    terminate(old)
    assert not idle_and_quiet(connection.connection)
    request_starts()
    assert backend_pid() != old


def test_a_request_after_the_server_closed_the_connection_is_answered(clinic):
    Clinic.objects.filter(pk=clinic.pk).update(state=Clinic.State.LIVE)
    _, token = agent_token_create(name="agent")
    agent = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    url = f"/api/v1/agent/config?clinic={clinic.pk}"
    first = agent.get(url)
    assert first.status_code == 200
    old = backend_pid()
    terminate(old)
    request_starts()  # Django's test client leaves the request_started signal out
    assert agent.get(url, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    assert backend_pid() != old


def test_anything_unread_on_the_socket_falls_back_to_the_ping():
    with connection.cursor() as cur:
        cur.execute("LISTEN health_check_probe")
    other_session("SELECT pg_notify('health_check_probe', 'hello')")
    wait_readable()
    request_starts()
    assert not idle_and_quiet(connection.connection)
    usable = mock.patch.object(DatabaseWrapper, "is_usable", autospec=True, return_value=True)
    with usable as ping, connection.cursor() as cur:
        cur.execute("UNLISTEN *")
    assert ping.call_count == 1


def prepared_here(fragment: str) -> int:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            [f"%{fragment}%"],
        )
        return int(cur.fetchone()[0])


def test_the_call_time_statements_are_prepared_on_the_connection_and_again_after_a_restart():
    """Decision 0142: parsed and planned once per connection, not at every request."""
    probe = "SELECT 'prepared-probe', %s::int + 1"
    for n in (1, 2):
        with connection.prepared_cursor() as cur:
            cur.execute(probe, [n])
            assert cur.fetchone() == ("prepared-probe", n + 1)
    assert prepared_here("prepared-probe") == 1
    terminate(backend_pid())
    request_starts()
    with connection.prepared_cursor() as cur:
        cur.execute(probe, [3])
        assert cur.fetchone() == ("prepared-probe", 4)
    assert prepared_here("prepared-probe") == 1


def test_a_webhook_and_a_pickup_304_run_prepared_statements(clinic, client, settings):
    from telephony.models import Provisioning
    from tests.telephony.test_webhooks import call_events, post, sip
    from tests.telephony.webhook_helpers import KEY, SECRET

    settings.LIVEKIT_API_KEY, settings.LIVEKIT_API_SECRET = KEY, SECRET
    Provisioning.objects.filter(clinic=clinic).update(trunk_id="ST_prepared")
    for text in call_events(clinic, participant=sip(trunk="ST_prepared")):
        assert post(client, text).status_code == 200
    # One per combination of parameter types psycopg sends (a missing time is untyped).
    assert 1 <= prepared_here("FOR NO KEY UPDATE OF cl") <= 4
    assert 1 <= prepared_here("INSERT INTO telephony_call") <= 4
    Clinic.objects.filter(pk=clinic.pk).update(state=Clinic.State.LIVE)
    _, token = agent_token_create(name="agent")
    agent = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    url = f"/api/v1/agent/config?clinic={clinic.pk}"
    etag = agent.get(url)["ETag"]
    assert agent.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304
    assert prepared_here("FROM telephony_agenttoken t") == 1
