"""Fixtures for the team tests: a second owner, and invitations with their emailed token."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from tenants import team
from tests.factories import UserFactory, add_member

LINK_RE = re.compile(r"/invitations/([A-Za-z0-9_-]+)/")


@pytest.fixture
def co_owner(clinic):
    return add_member(clinic, "owner", UserFactory(email="co-owner@bright.example"))


@pytest.fixture
def invite(django_capture_on_commit_callbacks, clinic, owner):
    """Invite through the service and return (invitation, token read from the email)."""

    def _invite(email="new@bright.example", role="viewer", *, actor=None, on=None):
        with django_capture_on_commit_callbacks(execute=True):
            invitation = team.invitation_create(
                clinic=on or clinic, actor=actor or owner, email=email, role=role
            )
        message = mail.outbox[-1]
        assert message.to == [invitation.email]
        return invitation, LINK_RE.findall(message.body)[-1]

    return _invite
