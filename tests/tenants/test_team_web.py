"""The team page, its POST-only actions, and the invitation link page."""

from __future__ import annotations

import html
import logging
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tenants import team
from tenants.models import Invitation, Membership, User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def team_url(clinic, name="team", *args):
    return reverse(f"tenants:{name}", args=[clinic.slug, *args])


def link(token):
    return reverse("tenants:invitation", args=[token])


def text(response):
    return html.unescape(response.content.decode())


# --- the team page --------------------------------------------------------------------------


def test_owners_see_members_invitations_and_every_control(client, clinic, owner, viewer, invite):
    invite("pending@bright.example", "admin")
    client.force_login(owner)
    r = client.get(team_url(clinic))
    assert r.status_code == 200
    page = text(r)
    for expected in ("owner@bright.example", "viewer@bright.example", "pending@bright.example"):
        assert expected in page
    assert "Send invitation" in page and "Revoke" in page and "Change role" in page
    assert team_url(clinic, "team_member_remove", viewer.pk) in page


@pytest.mark.parametrize("role", ["admin", "viewer"])
def test_others_see_the_team_without_owner_controls(client, clinic, owner, invite, role):
    invite("pending@bright.example")
    user = Membership.objects.create(clinic=clinic, user=UserFactory(), role=role).user
    client.force_login(user)
    page = text(client.get(team_url(clinic)))
    assert "owner@bright.example" in page and "pending@bright.example" in page
    assert "Send invitation" not in page and "Revoke" not in page and "Change role" not in page
    assert team_url(clinic, "team_member_remove", owner.pk) not in page
    assert team_url(clinic, "team_member_remove", user.pk) in page  # "Leave"


def test_the_dashboard_links_to_the_team(client, clinic, viewer):
    client.force_login(viewer)
    assert team_url(clinic) in text(client.get(reverse("tenants:dashboard", args=[clinic.slug])))


def test_the_team_page_takes_no_posts_and_actions_take_no_gets(client, clinic, owner, viewer):
    client.force_login(owner)
    assert client.post(team_url(clinic)).status_code == 405
    assert client.get(team_url(clinic, "team_invite")).status_code == 405
    assert client.get(team_url(clinic, "team_member_remove", viewer.pk)).status_code == 405


def test_inviting_from_the_page_sends_the_email(
    client, clinic, owner, django_capture_on_commit_callbacks
):
    client.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(
            team_url(clinic, "team_invite"), {"email": "dr.who@bright.example", "role": "admin"}
        )
    assert r.status_code == 302 and r["Location"] == team_url(clinic)
    assert mail.outbox[-1].to == ["dr.who@bright.example"]
    assert Invitation.objects.get().role == "admin"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"email": "nope", "role": "viewer"}, "email"),
        ({"email": "a@b.example", "role": "root"}, "role"),
        ({"email": "viewer@bright.example", "role": "viewer"}, "email"),
    ],
)
def test_a_bad_invitation_is_a_400_naming_the_field(client, clinic, owner, viewer, data, field):
    client.force_login(owner)
    r = client.post(team_url(clinic, "team_invite"), data)
    assert r.status_code == 400
    assert r.context["invite_form"].errors[field]
    assert not Invitation.objects.exists()


def test_changing_a_role_from_the_page(client, clinic, owner, viewer):
    client.force_login(owner)
    r = client.post(team_url(clinic, "team_member_role", viewer.pk), {"role": "admin"})
    assert r.status_code == 302
    assert Membership.objects.get(clinic=clinic, user=viewer).role == "admin"


def test_the_last_owner_cannot_be_demoted_from_the_page(client, clinic, owner):
    client.force_login(owner)
    r = client.post(team_url(clinic, "team_member_role", owner.pk), {"role": "viewer"})
    assert r.status_code == 400
    assert "is the last owner of Bright Smile Dental" in text(r)
    assert Membership.objects.get(clinic=clinic, user=owner).role == "owner"


def test_removing_a_member_from_the_page(client, clinic, owner, viewer):
    client.force_login(owner)
    assert client.post(team_url(clinic, "team_member_remove", viewer.pk)).status_code == 302
    assert not Membership.objects.filter(user=viewer).exists()


def test_a_member_of_another_clinic_is_404_as_a_target(client, clinic, owner, outsider):
    client.force_login(owner)
    assert client.post(team_url(clinic, "team_member_remove", outsider.pk)).status_code == 404
    assert (
        client.post(
            team_url(clinic, "team_member_role", outsider.pk), {"role": "viewer"}
        ).status_code
        == 404
    )
    assert Membership.objects.filter(user=outsider).exists()


def test_a_viewer_leaves_and_lands_on_home(client, clinic, viewer):
    client.force_login(viewer)
    r = client.post(team_url(clinic, "team_member_remove", viewer.pk))
    assert r.status_code == 302 and r["Location"] == reverse("tenants:home")
    assert not Membership.objects.filter(user=viewer).exists()
    assert client.get(team_url(clinic)).status_code == 404


def test_the_last_owner_cannot_leave_from_the_page(client, clinic, owner):
    client.force_login(owner)
    r = client.post(team_url(clinic, "team_member_remove", owner.pk))
    assert r.status_code == 400
    assert "You are the last owner of Bright Smile Dental, so you cannot leave it." in text(r)


def test_revoking_from_the_page(client, clinic, owner, invite):
    invitation, token = invite()
    client.force_login(owner)
    r = client.post(team_url(clinic, "team_invitation_revoke", invitation.pk))
    assert r.status_code == 302
    assert team.invitation_problem(team.invitation_for_token(token)) == team.REVOKED_LINK
    r = client.post(team_url(clinic, "team_invitation_revoke", invitation.pk))
    assert r.status_code == 400 and "already revoked" in text(r)


def test_another_clinics_invitation_is_404(client, clinic, owner, outsider, invite):
    other = Membership.objects.get(user=outsider).clinic
    theirs, _ = invite("x@y.example", on=other, actor=outsider)
    client.force_login(owner)
    assert client.post(team_url(clinic, "team_invitation_revoke", theirs.pk)).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == "pending"


# --- the invitation link ---------------------------------------------------------------------

ACCEPT = "/invitations/accept/"


def open_link(client, token):
    """Follow the emailed link: the token moves into the session, the URL loses it."""
    r = client.get(link(token))
    assert r.status_code == 302 and r["Location"] == ACCEPT
    return client.get(ACCEPT)


def test_a_new_person_creates_an_account_and_joins(client, clinic, invite):
    _, token = invite("fresh@bright.example", "admin")
    r = open_link(client, token)
    assert r.status_code == 200
    assert "Create your account" in text(r) and "fresh@bright.example" in text(r)
    assert token not in text(r)
    r = client.post(ACCEPT, {"password": "a-Long-passw0rd!"})
    assert r.status_code == 302 and r["Location"] == reverse(
        "tenants:dashboard", args=[clinic.slug]
    )
    user = User.objects.get(email="fresh@bright.example")
    assert Membership.objects.get(user=user).role == "admin"
    assert client.get(r["Location"]).status_code == 200  # signed in
    r = open_link(client, token)
    assert r.status_code == 410 and team.USED_LINK in text(r)


def test_a_weak_password_is_a_400_and_creates_nothing(client, invite):
    _, token = invite("fresh@bright.example")
    open_link(client, token)
    r = client.post(ACCEPT, {"password": "123"})
    assert r.status_code == 400 and r.context["form"].errors["password"]
    assert not User.objects.filter(email="fresh@bright.example").exists()


def test_opening_the_link_signed_in_changes_nothing_until_accepted(client, clinic, invite):
    user = UserFactory(email="known@bright.example")
    _, token = invite("known@bright.example")
    client.force_login(user)
    r = open_link(client, token)
    assert r.status_code == 200 and "Accept and join Bright Smile Dental" in text(r)
    assert not Membership.objects.filter(user=user).exists()  # a GET (mail scanner) accepts nothing
    r = client.post(ACCEPT)
    assert r.status_code == 302
    assert Membership.objects.get(user=user).role == "viewer"


def test_an_existing_account_signs_in_and_then_accepts(client, invite):
    user = UserFactory(email="known@bright.example")
    _, token = invite("known@bright.example")
    r = open_link(client, token)
    assert r.status_code == 200 and "Sign in to accept" in text(r)
    assert f"?next={ACCEPT}" in text(r)
    client.post(ACCEPT, {"password": "a-Long-passw0rd!"})  # no account is made for them
    assert User.objects.filter(email="known@bright.example").count() == 1
    r = client.post(
        reverse("tenants:login") + f"?next={ACCEPT}",
        {"username": "known@bright.example", "password": "correct-horse-battery-9"},
    )
    assert r.status_code == 302 and r["Location"] == ACCEPT  # the token survived sign-in
    assert client.post(ACCEPT).status_code == 302
    assert Membership.objects.filter(user=user).exists()


def test_the_wrong_account_gets_a_clear_403(client, invite):
    other = UserFactory(email="other@bright.example")
    _, token = invite("invited@bright.example")
    client.force_login(other)
    r = open_link(client, token)
    for r in (r, client.post(ACCEPT)):
        assert r.status_code == 403
        assert "This invitation is for invited@bright.example, but you are signed in as" in text(r)
        assert "sign out, then open the link in the email again" in text(r)
    assert not Membership.objects.filter(user=other).exists()


def test_expired_revoked_and_unknown_links_give_a_clear_page(client, owner, invite):
    expired, expired_token = invite("a@bright.example")
    Invitation.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(hours=1))
    revoked, revoked_token = invite("b@bright.example")
    team.invitation_revoke(invitation=revoked, actor=owner)

    r = open_link(client, expired_token)
    assert r.status_code == 410 and "This invitation expired on" in text(r)
    open_link(client, revoked_token)
    r = client.post(ACCEPT, {"password": "a-Long-passw0rd!"})
    assert r.status_code == 410 and team.REVOKED_LINK in text(r)
    r = open_link(client, "no-such-token")
    assert r.status_code == 404 and team.INVALID_LINK in text(r)
    assert Client().get(ACCEPT).status_code == 404  # no token in this session at all
    assert not User.objects.filter(email__in=["a@bright.example", "b@bright.example"]).exists()


def test_the_token_stays_out_of_error_logs(client, invite, caplog):
    caplog.set_level(logging.DEBUG)
    other = UserFactory(email="other@bright.example")
    _, token = invite("invited@bright.example")
    open_link(Client(), token)
    Client().post(link(token), {"password": "1"})
    client.force_login(other)
    assert open_link(client, token).status_code == 403
    assert "Forbidden: /invitations/accept/" in caplog.text
    assert token not in caplog.text


def test_the_link_page_is_not_cached(client, invite):
    _, token = invite()
    assert "no-cache" in client.get(link(token))["Cache-Control"]
    assert "no-cache" in client.get(ACCEPT)["Cache-Control"]


def test_the_link_is_rate_limited_per_ip(client, settings):
    settings.RATELIMIT_INVITATION = "3/m"
    codes = [client.get(link(f"guess-{i}")).status_code for i in range(5)]
    assert codes == [302, 302, 302, 429, 429]
