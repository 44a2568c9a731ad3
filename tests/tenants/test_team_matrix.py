"""The roles matrix as a table: every team endpoint (web and API) for owner, admin, viewer,
outsider (owner of another clinic) and anonymous. Allowed roles get their success status,
other members 403, outsiders 404, anonymous visitors the sign-in page (web) or 401 (API);
a refused request changes nothing. The allowed roles are written out here rather than read
from tenants.access, so the test checks the code instead of repeating it.

The same matrix is documented in docs/security.md; the last test keeps the two in step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from tenants import team
from tenants.access import ACTIONS, role_allows
from tenants.models import Clinic, Invitation, Membership, User
from tests.api_helpers import api_as, clinic_url
from tests.factories import UserFactory, add_member

pytestmark = pytest.mark.django_db

EVERYONE = {"owner", "admin", "viewer"}
EDITORS = {"owner", "admin"}
OWNERS = {"owner"}
PARTIES = ["owner", "admin", "viewer", "outsider", "anonymous"]


@dataclass
class World:
    clinic: Clinic
    users: dict[str, User | None]
    target: User
    invitation: Invitation


@pytest.fixture
def world(clinic, owner, admin_member, viewer, outsider):
    add_member(clinic, "owner", UserFactory(email="co-owner@bright.example"))  # so owners may leave
    target = add_member(clinic, "viewer", UserFactory(email="target@bright.example"))
    invitation = team.invitation_create(
        clinic=clinic, actor=owner, email="pending@bright.example", role="viewer"
    )
    users = {
        "owner": owner,
        "admin": admin_member,
        "viewer": viewer,
        "outsider": outsider,
        "anonymous": None,
    }
    return World(clinic, users, target, invitation)


def web(name, *args):
    return lambda w, me: reverse(f"tenants:{name}", args=[w.clinic.slug, *[a(w, me) for a in args]])


def audit_web(name):
    return lambda w, me: reverse(f"audit:{name}", args=[w.clinic.slug])


def api(tail):
    return lambda w, me: clinic_url(
        w.clinic,
        tail.format(
            target=w.target.pk, me=me.pk if me else w.target.pk, invitation=w.invitation.pk
        ),
    )


TARGET = lambda w, me: w.target.pk  # noqa: E731
ME = lambda w, me: me.pk if me else w.target.pk  # noqa: E731
INVITATION = lambda w, me: w.invitation.pk  # noqa: E731
NEW = {"email": "new@bright.example", "role": "viewer"}

# (endpoint, transport, method, url, body, roles allowed, success status)
ENDPOINTS = [
    ("team page", "web", "get", web("team"), None, EVERYONE, 200),
    ("invite", "web", "post", web("team_invite"), NEW, OWNERS, 302),
    ("change role", "web", "post", web("team_member_role", TARGET), {"role": "admin"}, OWNERS, 302),
    ("remove member", "web", "post", web("team_member_remove", TARGET), {}, OWNERS, 302),
    ("leave", "web", "post", web("team_member_remove", ME), {}, EVERYONE, 302),
    (
        "revoke invitation",
        "web",
        "post",
        web("team_invitation_revoke", INVITATION),
        {},
        OWNERS,
        302,
    ),
    ("list members", "api", "get", api("members/"), None, EVERYONE, 200),
    ("invite via members", "api", "post", api("members/"), NEW, OWNERS, 201),
    ("change role", "api", "patch", api("members/{target}/"), {"role": "admin"}, OWNERS, 200),
    ("remove member", "api", "delete", api("members/{target}/"), None, OWNERS, 204),
    ("leave", "api", "delete", api("members/{me}/"), None, EVERYONE, 204),
    ("list invitations", "api", "get", api("invitations/"), None, EVERYONE, 200),
    ("invite", "api", "post", api("invitations/"), NEW, OWNERS, 201),
    ("revoke invitation", "api", "delete", api("invitations/{invitation}/"), None, OWNERS, 204),
    # The audit log and its export (they show team changes among the rest)
    ("audit log", "web", "get", audit_web("log"), None, EDITORS, 200),
    ("audit log export", "web", "get", audit_web("log_csv"), None, EDITORS, 200),
    ("audit log", "api", "get", api("audit-log/"), None, EDITORS, 200),
]


def snapshot(clinic):
    return (
        sorted(Membership.objects.filter(clinic=clinic).values_list("user_id", "role")),
        sorted(Invitation.objects.filter(clinic=clinic).values_list("email", "role", "revoked_at")),
    )


def client_for(transport, user):
    if transport == "api":
        return api_as(user)
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.mark.parametrize("party", PARTIES)
@pytest.mark.parametrize(
    ("endpoint", "transport", "method", "url", "body", "allowed", "success"),
    ENDPOINTS,
    ids=[f"{t}-{m}-{e.replace(' ', '_')}" for e, t, m, *_ in ENDPOINTS],
)
def test_roles_matrix(world, party, endpoint, transport, method, url, body, allowed, success):
    me = world.users[party]
    target = url(world, me)
    client = client_for(transport, me)
    before = snapshot(world.clinic)
    kwargs = {"format": "json"} if transport == "api" else {}
    r = (
        getattr(client, method)(target, body, **kwargs)
        if body is not None
        else getattr(client, method)(target, **kwargs)
    )

    if party == "anonymous":
        if transport == "api":
            assert r.status_code == 401
        else:
            assert r.status_code == 302 and r["Location"].startswith(reverse(settings.LOGIN_URL))
    elif party == "outsider":
        assert r.status_code == 404
    elif party in allowed:
        assert r.status_code == success, (r.status_code, r.content[:300])
        if method != "get":
            assert snapshot(world.clinic) != before
        return
    else:
        assert r.status_code == 403
    assert snapshot(world.clinic) == before


def test_the_documented_matrix_is_the_one_in_the_code():
    """docs/security.md's table has a row per tenants.access.ACTIONS entry, marked alike."""
    doc = (Path(settings.BASE_DIR) / "docs" / "security.md").read_text()
    rows = {}
    for line in doc.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[1] in ("yes", "no"):
            rows[cells[0]] = [c == "yes" for c in cells[1:]]
    for action, need in ACTIONS.items():
        expected = [role_allows(role, need) for role in ("viewer", "admin", "owner")]
        assert rows.get(action.capitalize()) == expected, action
    assert len(rows) == len(ACTIONS)
    assert re.search(r"\| Action \| Viewer \| Admin \| Owner \|", doc)
