"""The team API: members, invitations and accepting, with full-response comparisons."""

from __future__ import annotations

import pytest
from django.core import mail

from tenants import team
from tenants.models import Invitation, Membership
from tests.api_helpers import API, api_as, clinic_url, iso
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ACCEPT = f"{API}/invitations/accept"


def members_url(clinic, user_id=None):
    return clinic_url(clinic, "members/" + (f"{user_id}/" if user_id else ""))


def invitations_url(clinic, pk=None):
    return clinic_url(clinic, "invitations/" + (f"{pk}/" if pk else ""))


def test_members_are_listed_owners_first(clinic, owner, viewer, admin_member):
    r = api_as(viewer).get(members_url(clinic))
    assert r.status_code == 200
    joined = {m.user_id: iso(m.created_at) for m in Membership.objects.filter(clinic=clinic)}
    assert r.json() == [
        {
            "user_id": owner.pk,
            "email": "owner@bright.example",
            "role": "owner",
            "joined_at": joined[owner.pk],
        },
        {
            "user_id": admin_member.pk,
            "email": "admin@bright.example",
            "role": "admin",
            "joined_at": joined[admin_member.pk],
        },
        {
            "user_id": viewer.pk,
            "email": "viewer@bright.example",
            "role": "viewer",
            "joined_at": joined[viewer.pk],
        },
    ]


@pytest.mark.parametrize("path", ["invitations/", "members/"])
def test_an_owner_invites_and_the_token_is_never_in_the_response(
    clinic, owner, path, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        r = api_as(owner).post(
            clinic_url(clinic, path),
            {"email": "New@Bright.example", "role": "admin"},
            format="json",
        )
    assert r.status_code == 201, r.json()
    invitation = Invitation.objects.get()
    assert r.json() == {
        "id": str(invitation.pk),
        "email": "new@bright.example",
        "role": "admin",
        "status": "pending",
        # The email goes out when the request's transaction commits, after this answer.
        "email_status": "sending",
        "invited_by": "owner@bright.example",
        "created_at": iso(invitation.created_at),
        "expires_at": iso(invitation.expires_at),
    }
    token = mail.outbox[-1].body.split("/invitations/")[1].split("/")[0]
    assert token not in r.content.decode()
    listed = api_as(owner).get(invitations_url(clinic)).json()[0]
    assert listed == {**r.json(), "email_status": "sent"}  # sent once the request committed


def test_the_role_defaults_to_viewer(clinic, owner):
    r = api_as(owner).post(invitations_url(clinic), {"email": "x@y.example"}, format="json")
    assert r.status_code == 201 and r.json()["role"] == "viewer"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "email"),
        ({"email": "nope"}, "email"),
        ({"email": 42}, "email"),
        ({"email": "x@y.example", "role": "superuser"}, "role"),
        ({"email": "x@y.example", "role": ["owner"]}, "role"),
        ({"email": "x@y.example", "clinic": "other"}, "clinic"),
        ({"email": "owner@bright.example"}, "email"),  # already a member
    ],
)
def test_bad_invitations_are_400s_naming_the_field(clinic, owner, body, field):
    r = api_as(owner).post(invitations_url(clinic), body, format="json")
    assert r.status_code == 400 and field in r.json(), r.json()
    assert not Invitation.objects.exists()


def test_a_duplicate_invitation_is_a_400_with_a_sentence(clinic, owner, invite):
    invite("x@y.example")
    r = api_as(owner).post(invitations_url(clinic), {"email": "x@y.example"}, format="json")
    assert r.status_code == 400
    assert r.json() == {
        "email": [
            "x@y.example already has an invitation waiting. Revoke it first if you want to send a new link."
        ]
    }


def test_revoking_an_invitation(clinic, owner, invite):
    invitation, token = invite()
    r = api_as(owner).delete(invitations_url(clinic, invitation.pk))
    assert r.status_code == 204
    assert team.invitation_problem(team.invitation_for_token(token)) == team.REVOKED_LINK
    r = api_as(owner).delete(invitations_url(clinic, invitation.pk))
    assert r.status_code == 400 and r.json() == {
        "non_field_errors": ["This invitation was already revoked."]
    }
    assert api_as(owner).get(invitations_url(clinic)).json() == []


def test_another_clinics_invitation_is_404_through_your_own_clinic(clinic, owner, outsider, invite):
    other = Membership.objects.get(user=outsider).clinic
    theirs, _ = invite("x@y.example", on=other, actor=outsider)
    assert api_as(owner).delete(invitations_url(clinic, theirs.pk)).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == "pending"


def test_changing_a_role(clinic, owner, viewer):
    r = api_as(owner).patch(members_url(clinic, viewer.pk), {"role": "admin"}, format="json")
    assert r.status_code == 200
    assert r.json()["role"] == "admin" and r.json()["user_id"] == viewer.pk
    assert Membership.objects.get(user=viewer).role == "admin"


@pytest.mark.parametrize(
    ("body", "field"), [({}, "role"), ({"role": "boss"}, "role"), ({"role": "admin", "x": 1}, "x")]
)
def test_bad_role_changes_are_400s_naming_the_field(clinic, owner, viewer, body, field):
    r = api_as(owner).patch(members_url(clinic, viewer.pk), body, format="json")
    assert r.status_code == 400 and field in r.json()
    assert Membership.objects.get(user=viewer).role == "viewer"


def test_the_last_owner_cannot_be_demoted_or_leave(clinic, owner):
    r = api_as(owner).patch(members_url(clinic, owner.pk), {"role": "admin"}, format="json")
    assert r.status_code == 400
    assert r.json() == {
        "role": [
            team.LAST_OWNER_DEMOTE.format(
                email="owner@bright.example", clinic="Bright Smile Dental"
            )
        ]
    }
    r = api_as(owner).delete(members_url(clinic, owner.pk))
    assert r.status_code == 400
    assert r.json() == {
        "user": [
            team.LAST_OWNER_LEAVE.format(email="owner@bright.example", clinic="Bright Smile Dental")
        ]
    }
    assert Membership.objects.get(user=owner).role == "owner"


def test_removing_a_member_and_leaving(clinic, owner, viewer, admin_member):
    assert api_as(owner).delete(members_url(clinic, viewer.pk)).status_code == 204
    assert api_as(admin_member).delete(members_url(clinic, admin_member.pk)).status_code == 204
    assert list(Membership.objects.filter(clinic=clinic).values_list("user_id", flat=True)) == [
        owner.pk
    ]
    assert api_as(admin_member).get(members_url(clinic)).status_code == 404  # gone at once


def test_an_unknown_member_is_404(clinic, owner, outsider):
    assert api_as(owner).delete(members_url(clinic, outsider.pk)).status_code == 404
    assert (
        api_as(owner)
        .patch(members_url(clinic, 10**9), {"role": "admin"}, format="json")
        .status_code
        == 404
    )


# --- accepting -----------------------------------------------------------------------------


def test_accepting_as_the_invited_user(clinic, invite):
    user = UserFactory(email="new@bright.example")
    _, token = invite("new@bright.example", "admin")
    r = api_as(user).post(ACCEPT, {"token": token}, format="json")
    assert r.status_code == 200, r.json()
    assert r.json()["role"] == "admin"
    assert r.json()["clinic"]["slug"] == clinic.slug and r.json()["clinic"]["role"] == "admin"
    assert api_as(user).get(members_url(clinic)).status_code == 200
    r = api_as(user).post(ACCEPT, {"token": token}, format="json")
    assert r.status_code == 400 and r.json() == {"token": [team.USED_LINK]}


def test_accepting_as_someone_else_is_refused(clinic, invite):
    other = UserFactory(email="other@bright.example")
    _, token = invite("new@bright.example")
    r = api_as(other).post(ACCEPT, {"token": token}, format="json")
    assert (
        r.status_code == 400 and "This invitation is for new@bright.example" in r.json()["token"][0]
    )
    assert not Membership.objects.filter(user=other).exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "token"),
        ({"token": 5}, "token"),
        ({"token": "x" * 101}, "token"),
        ({"token": "bogus"}, "token"),
        ({"token": "t", "role": "owner"}, "role"),
    ],
)
def test_bad_accept_bodies_are_400s_naming_the_field(owner, body, field):
    r = api_as(owner).post(ACCEPT, body, format="json")
    assert r.status_code == 400 and field in r.json(), r.json()


def test_accepting_needs_credentials(invite):
    _, token = invite()
    r = api_as(None).post(ACCEPT, {"token": token}, format="json")
    assert r.status_code == 401
    assert Invitation.objects.get().status == "pending"


def test_accepting_is_rate_limited(owner, settings):
    settings.RATELIMIT_INVITATION = "2/m"
    codes = [
        api_as(owner).post(ACCEPT, {"token": f"guess-{i}"}, format="json").status_code
        for i in range(4)
    ]
    assert codes == [400, 400, 429, 429]
