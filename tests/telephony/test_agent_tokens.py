"""Agent service tokens: stored hashed, shown once, revocable; command and admin."""

from __future__ import annotations

import hashlib
import io

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from telephony.agent_tokens import agent_token_authenticate, agent_token_create, agent_token_revoke
from telephony.models import AgentToken
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_it_stores_only_the_sha256_and_a_display_prefix():
    token, raw = agent_token_create(name="agent-eu")
    token.refresh_from_db()
    assert raw.startswith("sbat_") and len(raw) > 40
    assert token.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert token.prefix == raw[:12]
    assert raw not in {getattr(token, f.attname) for f in AgentToken._meta.concrete_fields}


def test_it_authenticates_and_records_last_use_then_stops_after_revocation():
    token, raw = agent_token_create(name="agent")
    assert agent_token_authenticate(raw) == token
    token.refresh_from_db()
    assert token.last_used_at is not None
    agent_token_revoke(token=token)
    assert token.revoked_at is not None
    assert agent_token_authenticate(raw) is None


@pytest.mark.parametrize("raw", ["", "sbat_", "sbat_nope", "Token abc", "x" * 500])
def test_it_rejects_unknown_tokens(raw):
    agent_token_create(name="agent")
    assert agent_token_authenticate(raw) is None


def test_command_prints_the_token_once_and_stores_its_hash():
    out, err = io.StringIO(), io.StringIO()
    call_command("create_agent_token", "agent-prod", stdout=out, stderr=err)
    raw = out.getvalue().strip()
    token = AgentToken.objects.get(name="agent-prod")
    assert token.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in err.getvalue() and token.prefix in err.getvalue()


def test_command_refuses_a_blank_name():
    with pytest.raises(CommandError):
        call_command("create_agent_token", "  ", stdout=io.StringIO(), stderr=io.StringIO())


@pytest.fixture
def staff_client(client):
    staff = UserFactory(email="ops@switchboard.example", is_staff=True, is_superuser=True)
    client.force_login(staff)
    return client


def test_admin_add_shows_the_token_once_and_never_the_hash(staff_client):
    url = reverse("admin:telephony_agenttoken_add")
    r = staff_client.post(url, {"name": "agent-admin"}, follow=True)
    assert r.status_code == 200
    token = AgentToken.objects.get(name="agent-admin")
    shown = [str(m) for m in r.context["messages"]]
    (message,) = [m for m in shown if "copy it now" in m]
    raw = message.split(": ", 1)[1].split(" ", 1)[0]
    assert hashlib.sha256(raw.encode()).hexdigest() == token.token_hash
    change = staff_client.get(reverse("admin:telephony_agenttoken_change", args=[token.pk]))
    assert token.token_hash not in change.content.decode()
    assert raw not in change.content.decode()


def test_admin_revoke_action(staff_client):
    token, raw = agent_token_create(name="agent")
    r = staff_client.post(
        reverse("admin:telephony_agenttoken_changelist"),
        {"action": "revoke", "_selected_action": [token.pk]},
        follow=True,
    )
    assert r.status_code == 200
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert agent_token_authenticate(raw) is None
