"""The team services against the database: invitations, accepting, roles, removing, leaving
and the last-owner rule (its concurrent half is in test_team_concurrency.py)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, connection, transaction
from django.http import Http404
from django.utils import timezone

from tenants import team
from tenants.access import READ, get_clinic_for_user
from tenants.models import Clinic, Invitation, Membership, User
from tenants.team import TeamError
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def role_of(clinic, user):
    return Membership.objects.get(clinic=clinic, user=user).role


def member_of(clinic, user):
    return Membership.objects.select_related("clinic").get(clinic=clinic, user=user)


def messages_of(err, field=None):
    exc = err.value
    return exc.message_dict[field] if field else exc.messages


# --- inviting -------------------------------------------------------------------------------


def test_an_owner_invites_and_the_link_is_emailed_and_stored_hashed(
    invite, clinic, owner, settings
):
    settings.INVITATION_MAX_AGE_SECONDS = 3600
    before = timezone.now()
    invitation, token = invite("  New.Person@Bright.Example ", "admin")

    assert invitation.email == "new.person@bright.example"
    assert invitation.role == "admin" and invitation.invited_by == owner
    assert invitation.status == "pending"
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert len(token) >= 40  # 32 random bytes, base64url
    elapsed = invitation.expires_at - before
    assert timedelta(seconds=3590) < elapsed <= timedelta(seconds=3610)
    body = mail.outbox[-1].body
    assert f"http://127.0.0.1:8000/invitations/{token}/" in body
    assert "Bright Smile Dental" in mail.outbox[-1].subject and "as admin" in body


def test_the_token_itself_is_nowhere_in_the_database(invite):
    _, token = invite()
    with connection.cursor() as cur:
        for table in connection.introspection.table_names():
            cur.execute(f'SELECT * FROM "{table}"')
            assert token not in repr(cur.fetchall()), table


def test_the_email_is_sent_only_when_the_transaction_commits(
    clinic, owner, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        team.invitation_create(clinic=clinic, actor=owner, email="x@y.example", role="viewer")
    assert mail.outbox == [] and len(callbacks) == 1


@pytest.mark.parametrize("role", ["admin", "viewer"])
def test_only_owners_may_invite(clinic, role):
    actor = Membership.objects.create(clinic=clinic, user=UserFactory(), role=role).user
    with pytest.raises(PermissionDenied):
        team.invitation_create(clinic=clinic, actor=actor, email="x@y.example", role="viewer")
    assert not Invitation.objects.exists()


def test_an_owner_may_invite_another_owner(invite):
    invitation, _ = invite("second@bright.example", "owner")
    assert invitation.role == "owner"


@pytest.mark.parametrize(
    ("email", "role", "field"),
    [
        ("not-an-email", "viewer", "email"),
        ("", "viewer", "email"),
        ("x@y.example", "superuser", "role"),
        ("x@y.example", "", "role"),
    ],
)
def test_bad_invitation_input_names_the_field(clinic, owner, email, role, field):
    with pytest.raises(TeamError) as err:
        team.invitation_create(clinic=clinic, actor=owner, email=email, role=role)
    assert field in err.value.message_dict
    assert not Invitation.objects.exists()


def test_a_member_cannot_be_invited_again(clinic, owner, viewer):
    with pytest.raises(TeamError) as err:
        team.invitation_create(
            clinic=clinic, actor=owner, email="VIEWER@bright.example", role="admin"
        )
    assert messages_of(err, "email") == [
        "viewer@bright.example is already a member of Bright Smile Dental."
    ]


def test_a_second_pending_invitation_is_refused_until_the_first_is_revoked(invite, clinic, owner):
    first, _ = invite("x@y.example")
    with pytest.raises(TeamError) as err:
        team.invitation_create(clinic=clinic, actor=owner, email="X@Y.example", role="admin")
    assert "already has an invitation waiting" in messages_of(err, "email")[0]
    team.invitation_revoke(invitation=first, actor=owner)
    second, _ = invite("x@y.example", "admin")
    assert second.pk != first.pk


def test_an_expired_invitation_is_retired_by_a_new_one(invite, clinic):
    first, old_token = invite("x@y.example")
    Invitation.objects.filter(pk=first.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    _, new_token = invite("x@y.example")
    first.refresh_from_db()
    assert first.revoked_at is not None and first.status == "expired"
    assert team.invitation_problem(team.invitation_for_token(old_token)).startswith(
        "This invitation expired"
    )
    assert team.invitation_problem(team.invitation_for_token(new_token)) is None


def test_the_database_allows_one_open_invitation_per_clinic_and_address(clinic):
    later = timezone.now() + timedelta(days=1)
    Invitation.objects.create(
        clinic=clinic, email="a@b.example", role="viewer", token_hash="1", expires_at=later
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Invitation.objects.create(
            clinic=clinic, email="A@B.example", role="admin", token_hash="2", expires_at=later
        )
    Invitation.objects.create(  # closed ones are history and do not count
        clinic=clinic,
        email="a@b.example",
        role="viewer",
        token_hash="3",
        expires_at=later,
        revoked_at=timezone.now(),
    )


def test_invitations_are_per_clinic(invite, owner, outsider):
    other = Clinic.objects.get(memberships__user=outsider)
    invite("x@y.example")
    with pytest.raises(PermissionDenied):  # owner of one clinic, nobody in the other
        team.invitation_create(clinic=other, actor=owner, email="z@y.example", role="viewer")
    invitation, _ = invite("x@y.example", on=other, actor=outsider)
    assert invitation.clinic == other


# --- accepting ------------------------------------------------------------------------------


def test_the_invited_user_accepts_once_and_gets_the_role(invite, clinic):
    user = UserFactory(email="new@bright.example", email_verified_at=None)
    invitation, token = invite("new@bright.example", "admin")

    membership = team.invitation_accept(token=token, user=user)

    assert membership.role == "admin" and membership.clinic == clinic
    invitation.refresh_from_db()
    assert invitation.accepted_by == user and invitation.status == "accepted"
    user.refresh_from_db()
    assert user.email_verified  # the link reached the mailbox
    with pytest.raises(TeamError) as err:
        team.invitation_accept(token=token, user=user)
    assert messages_of(err, "token") == [team.USED_LINK]


def test_the_email_must_match_the_signed_in_user(invite, clinic):
    other = UserFactory(email="someone.else@bright.example")
    invitation, token = invite("new@bright.example")
    with pytest.raises(TeamError) as err:
        team.invitation_accept(token=token, user=other)
    assert messages_of(err, "token") == [
        "This invitation is for new@bright.example, but you are signed in as "
        "someone.else@bright.example. Sign out and open the link again, or ask the clinic's "
        "owner to invite someone.else@bright.example."
    ]
    assert not Membership.objects.filter(user=other).exists()
    invitation.refresh_from_db()
    assert invitation.status == "pending"


def test_the_email_match_ignores_case(invite, clinic):
    user = UserFactory(email="new@bright.example")
    _, token = invite("NEW@Bright.Example")
    assert team.invitation_accept(token=token, user=user).clinic == clinic


def test_an_expired_link_is_refused_with_its_date(invite):
    user = UserFactory(email="new@bright.example")
    invitation, token = invite()
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    with pytest.raises(TeamError) as err:
        team.invitation_accept(token=token, user=user)
    (message,) = messages_of(err, "token")
    assert message.startswith("This invitation expired on ") and "send you a new one" in message
    assert not Membership.objects.filter(user=user).exists()


def test_a_revoked_link_is_refused(invite, owner):
    user = UserFactory(email="new@bright.example")
    invitation, token = invite()
    team.invitation_revoke(invitation=invitation, actor=owner)
    with pytest.raises(TeamError) as err:
        team.invitation_accept(token=token, user=user)
    assert messages_of(err, "token") == [team.REVOKED_LINK]


@pytest.mark.parametrize("token", ["", "x", "not-a-token", "a" * 43, "a" * 5000])
def test_an_unknown_link_is_refused(token, invite):
    invite()
    with pytest.raises(TeamError) as err:
        team.invitation_accept(token=token, user=UserFactory(email="new@bright.example"))
    assert messages_of(err, "token") == [team.INVALID_LINK]


def test_a_link_to_an_offboarded_clinic_is_refused(invite, clinic):
    _, token = invite()
    Clinic.objects.filter(pk=clinic.pk).update(state=Clinic.State.OFFBOARDED)
    with pytest.raises(TeamError) as err:
        team.invitation_accept(token=token, user=UserFactory(email="new@bright.example"))
    assert messages_of(err, "token") == [team.INVALID_LINK]


def test_an_existing_member_accepting_keeps_their_role(invite, clinic, owner):
    _, token = invite("late@bright.example", "owner")
    user = UserFactory(email="late@bright.example")
    Membership.objects.create(clinic=clinic, user=user, role="viewer")
    assert team.invitation_accept(token=token, user=user).role == "viewer"


def test_a_new_person_accepts_by_creating_their_account(invite, clinic):
    _, token = invite("fresh@bright.example", "viewer")
    user, membership = team.invitation_accept_new_user(token=token, password="a-Long-passw0rd!")
    assert user.email == "fresh@bright.example" and user.email_verified
    assert user.check_password("a-Long-passw0rd!")
    assert membership.role == "viewer" and membership.clinic == clinic
    with pytest.raises(TeamError) as err:
        team.invitation_accept_new_user(token=token, password="a-Long-passw0rd!")
    assert messages_of(err, "token") == [team.USED_LINK]


def test_a_weak_password_creates_nothing(invite):
    invitation, token = invite("fresh@bright.example")
    with pytest.raises(TeamError) as err:
        team.invitation_accept_new_user(token=token, password="123")
    assert "password" in err.value.message_dict
    assert not User.objects.filter(email="fresh@bright.example").exists()
    invitation.refresh_from_db()
    assert invitation.status == "pending"


def test_an_existing_account_must_sign_in_to_accept(invite):
    UserFactory(email="fresh@bright.example")
    _, token = invite("fresh@bright.example")
    with pytest.raises(TeamError) as err:
        team.invitation_accept_new_user(token=token, password="a-Long-passw0rd!")
    assert messages_of(err, "email") == [team.ACCOUNT_EXISTS.format(email="fresh@bright.example")]


# --- revoking -------------------------------------------------------------------------------


def test_revoking_twice_or_after_acceptance_is_refused(invite, owner):
    invitation, _ = invite()
    team.invitation_revoke(invitation=invitation, actor=owner)
    with pytest.raises(TeamError, match="already revoked"):
        team.invitation_revoke(invitation=invitation, actor=owner)
    accepted, token = invite("b@bright.example")
    team.invitation_accept(token=token, user=UserFactory(email="b@bright.example"))
    with pytest.raises(TeamError, match="remove the member instead"):
        team.invitation_revoke(invitation=accepted, actor=owner)


def test_only_owners_may_revoke(invite, admin_member):
    invitation, _ = invite()
    with pytest.raises(PermissionDenied):
        team.invitation_revoke(invitation=invitation, actor=admin_member)
    invitation.refresh_from_db()
    assert invitation.status == "pending"


# --- roles, removing, leaving ---------------------------------------------------------------


def test_an_owner_changes_roles(clinic, owner, viewer):
    assert (
        team.member_change_role(
            membership=member_of(clinic, viewer), actor=owner, role="admin"
        ).role
        == "admin"
    )
    team.member_change_role(membership=member_of(clinic, viewer), actor=owner, role="owner")
    assert role_of(clinic, viewer) == "owner"


@pytest.mark.parametrize("actor_role", ["admin", "viewer"])
def test_only_owners_change_roles(clinic, viewer, actor_role):
    actor = Membership.objects.create(clinic=clinic, user=UserFactory(), role=actor_role).user
    with pytest.raises(PermissionDenied):
        team.member_change_role(membership=member_of(clinic, viewer), actor=actor, role="admin")
    with pytest.raises(PermissionDenied):  # not even themselves up
        team.member_change_role(membership=member_of(clinic, actor), actor=actor, role="owner")
    assert role_of(clinic, viewer) == "viewer" and role_of(clinic, actor) == actor_role


def test_a_bad_role_names_the_field(clinic, owner, viewer):
    with pytest.raises(TeamError) as err:
        team.member_change_role(membership=member_of(clinic, viewer), actor=owner, role="god")
    assert "role" in err.value.message_dict


def test_the_last_owner_cannot_be_demoted(clinic, owner):
    with pytest.raises(TeamError) as err:
        team.member_change_role(membership=member_of(clinic, owner), actor=owner, role="admin")
    assert messages_of(err, "role") == [
        "owner@bright.example is the last owner of Bright Smile Dental. Make another member "
        "an owner before changing this role."
    ]
    assert role_of(clinic, owner) == "owner"


def test_an_owner_may_step_down_when_another_owner_exists(clinic, owner, co_owner):
    team.member_change_role(membership=member_of(clinic, owner), actor=owner, role="viewer")
    assert role_of(clinic, owner) == "viewer"
    with pytest.raises(TeamError):  # co_owner is the last one now
        team.member_change_role(
            membership=member_of(clinic, co_owner), actor=co_owner, role="admin"
        )


def test_an_owner_removes_a_member_who_then_loses_access_at_once(clinic, owner, viewer):
    assert get_clinic_for_user(viewer, clinic.slug, need=READ)[0] == clinic
    team.member_remove(membership=member_of(clinic, viewer), actor=owner)
    assert not Membership.objects.filter(clinic=clinic, user=viewer).exists()
    with pytest.raises(Http404):
        get_clinic_for_user(viewer, clinic.slug, need=READ)


def test_an_owner_removes_another_owner_but_not_the_last(clinic, owner, co_owner):
    team.member_remove(membership=member_of(clinic, co_owner), actor=owner)
    with pytest.raises(TeamError) as err:
        team.member_remove(membership=member_of(clinic, owner), actor=owner)
    assert messages_of(err, "user") == [
        team.LAST_OWNER_LEAVE.format(clinic="Bright Smile Dental", email="owner@bright.example")
    ]


@pytest.mark.parametrize("actor_role", ["admin", "viewer"])
def test_only_owners_remove_others(clinic, viewer, actor_role):
    actor = Membership.objects.create(clinic=clinic, user=UserFactory(), role=actor_role).user
    with pytest.raises(PermissionDenied):
        team.member_remove(membership=member_of(clinic, viewer), actor=actor)
    assert Membership.objects.filter(clinic=clinic, user=viewer).exists()


@pytest.mark.parametrize("role", ["viewer", "admin"])
def test_any_member_may_leave(clinic, role):
    user = Membership.objects.create(clinic=clinic, user=UserFactory(), role=role).user
    team.member_leave(clinic=clinic, user=user)
    assert not Membership.objects.filter(clinic=clinic, user=user).exists()


def test_the_last_owner_cannot_leave(clinic, owner, viewer):
    with pytest.raises(TeamError) as err:
        team.member_leave(clinic=clinic, user=owner)
    assert messages_of(err, "user") == [
        "You are the last owner of Bright Smile Dental, so you cannot leave it. Make another "
        "member an owner first, or offboard the clinic."
    ]
    assert role_of(clinic, owner) == "owner"


def test_an_owner_may_leave_when_another_owner_remains(clinic, owner, co_owner):
    team.member_leave(clinic=clinic, user=owner)
    assert list(Membership.objects.filter(clinic=clinic).values_list("user", flat=True)) == [
        co_owner.pk
    ]


def test_a_stale_membership_is_refused_by_sentence(clinic, owner, viewer):
    stale = member_of(clinic, viewer)
    team.member_remove(membership=stale, actor=owner)
    with pytest.raises(TeamError, match="no longer a member"):
        team.member_change_role(membership=stale, actor=owner, role="admin")
    with pytest.raises(TeamError, match="no longer a member"):
        team.member_remove(membership=stale, actor=owner)
