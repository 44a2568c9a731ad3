"""Members and invitations: /clinics/{slug}/members/, /clinics/{slug}/invitations/ and
/invitations/accept.

Members are addressed by user id, invitations by their UUID. Adding a member is inviting
them: POST to members/ and to invitations/ do the same thing, because nobody joins a clinic
without accepting from their own mailbox. The invitation token is never in a response: it
goes to the invited address only (an inviter holding the link could otherwise accept it,
and even create the invited person's account).
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils.decorators import method_decorator
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from tenants import team
from tenants.access import MANAGE, READ, require
from tenants.api.base import READ_ERRORS, WRITE_ERRORS, ApiView, ClinicApiView, errors
from tenants.api.serializers import (
    ClinicOutput,
    StrictCharField,
    StrictChoiceField,
    StrictEmailField,
    StrictSerializer,
)
from tenants.limits import invitation_limit
from tenants.models import Invitation, Membership
from tenants.selectors import team_invitations, team_members

Role = Membership.Role
ROLE_HELP = "viewer reads; admin also edits and goes live; owner also manages the team."


class MemberOutput(serializers.Serializer):
    user_id = serializers.IntegerField(help_text="Use it in /members/{user_id}/.")
    email = serializers.EmailField(source="user.email")
    role = serializers.ChoiceField(choices=Role.choices)
    joined_at = serializers.DateTimeField(source="created_at")


class InvitationOutput(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Role.choices)
    status = serializers.ChoiceField(choices=["pending", "expired", "accepted", "revoked"])
    email_status = serializers.ChoiceField(
        choices=["sending", "sent", "failed"],
        help_text="Whether the emailed link went out; after `failed`, POST resend/ to try again.",
    )
    invited_by = serializers.EmailField(source="invited_by.email", allow_null=True, default=None)
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()


class InvitationInput(StrictSerializer):
    email = StrictEmailField(max_length=254)
    role = StrictChoiceField(
        choices=Role.choices, required=False, default=Role.VIEWER, help_text=ROLE_HELP
    )


class RoleInput(StrictSerializer):
    echo_fields = ("user_id", "email", "joined_at")

    role = StrictChoiceField(choices=Role.choices, help_text=ROLE_HELP)


class AcceptInput(StrictSerializer):
    token = StrictCharField(max_length=100, help_text="The token from the emailed link.")


class AcceptOutput(serializers.Serializer):
    clinic = ClinicOutput()
    role = serializers.ChoiceField(choices=Role.choices)


class _InviteMixin:
    def _invite(self, request: Request) -> Response:
        data = InvitationInput(data=request.data)
        data.is_valid(raise_exception=True)
        invitation = team.invitation_create(
            clinic=request.clinic, actor=request.user, **data.validated_data
        )
        return Response(InvitationOutput(invitation).data, status=status.HTTP_201_CREATED)


class MemberListApi(_InviteMixin, ClinicApiView):
    clinic_permission = {"GET": READ, "POST": MANAGE}

    @extend_schema(
        operation_id="members_list",
        responses={200: MemberOutput(many=True), **errors(*READ_ERRORS)},
    )
    def get(self, request: Request, slug: str) -> Response:
        members = team_members(clinic=self.clinic(request))
        return Response(MemberOutput(members, many=True).data)

    @extend_schema(
        operation_id="members_invite",
        request=InvitationInput,
        responses={201: InvitationOutput, **errors(*WRITE_ERRORS)},
    )
    def post(self, request: Request, slug: str) -> Response:
        """Add a member by inviting them (owners only); same as POST invitations/."""
        return self._invite(request)


class MemberDetailApi(ClinicApiView):
    # DELETE of your own membership is leaving, which every member may do; removing
    # someone else needs MANAGE, checked in the handler once we know who is meant.
    clinic_permission = {"PATCH": MANAGE, "DELETE": READ}

    def _target(self, request: Request, user_id: int) -> Membership:
        return get_object_or_404(
            Membership.objects.select_related("user", "clinic"),
            clinic=self.clinic(request),
            user_id=user_id,
        )

    @extend_schema(
        operation_id="member_change_role",
        request=RoleInput,
        responses={200: MemberOutput, **errors(*WRITE_ERRORS)},
    )
    def patch(self, request: Request, slug: str, user_id: int) -> Response:
        """Change a member's role (owners only); the last owner cannot be demoted."""
        target = self._target(request, user_id)
        data = RoleInput(data=request.data, context={"current": MemberOutput(target).data})
        data.is_valid(raise_exception=True)
        membership = team.member_change_role(
            membership=target, actor=request.user, role=data.validated_data["role"]
        )
        return Response(MemberOutput(membership).data)

    @extend_schema(
        operation_id="member_remove",
        responses={204: None, **errors(*WRITE_ERRORS)},
    )
    def delete(self, request: Request, slug: str, user_id: int) -> Response:
        """Remove a member (owners only), or leave: your own user id (any member).
        The last owner can do neither."""
        target = self._target(request, user_id)
        if target.user_id != request.user.pk:
            require(self.membership(request), MANAGE)
        team.member_remove(membership=target, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationListApi(_InviteMixin, ClinicApiView):
    clinic_permission = {"GET": READ, "POST": MANAGE}

    @extend_schema(
        operation_id="invitations_list",
        responses={200: InvitationOutput(many=True), **errors(*READ_ERRORS)},
    )
    def get(self, request: Request, slug: str) -> Response:
        """Invitations not yet accepted or revoked, expired ones included."""
        invitations = team_invitations(clinic=self.clinic(request))
        return Response(InvitationOutput(invitations, many=True).data)

    @extend_schema(
        operation_id="invitations_create",
        request=InvitationInput,
        responses={201: InvitationOutput, **errors(*WRITE_ERRORS)},
    )
    def post(self, request: Request, slug: str) -> Response:
        """Invite someone by email (owners only); the link goes to that address only."""
        return self._invite(request)


class InvitationDetailApi(ClinicApiView):
    clinic_permission = {"DELETE": MANAGE}

    @extend_schema(
        operation_id="invitation_revoke",
        responses={204: None, **errors(*WRITE_ERRORS)},
    )
    def delete(self, request: Request, slug: str, invitation_id: str) -> Response:
        """Revoke an invitation (owners only): its link stops working at once."""
        invitation = get_object_or_404(
            Invitation.objects.for_clinic(self.clinic(request)), pk=invitation_id
        )
        team.invitation_revoke(invitation=invitation, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationResendApi(ClinicApiView):
    clinic_permission = {"POST": MANAGE}

    @extend_schema(
        operation_id="invitation_resend",
        request=None,
        responses={200: InvitationOutput, **errors(*WRITE_ERRORS)},
    )
    def post(self, request: Request, slug: str, invitation_id: str) -> Response:
        """Send a pending invitation again (owners only): a new link, valid for the full
        period; the old link stops working. Use it when `email_status` is `failed`."""
        invitation = get_object_or_404(
            Invitation.objects.for_clinic(self.clinic(request)), pk=invitation_id
        )
        invitation = team.invitation_resend(invitation=invitation, actor=request.user)
        return Response(InvitationOutput(invitation).data)


@method_decorator(invitation_limit, name="post")
class InvitationAcceptApi(ApiView):
    @extend_schema(
        operation_id="invitation_accept",
        request=AcceptInput,
        responses={200: AcceptOutput, **errors(400, 401)},
    )
    def post(self, request: Request) -> Response:
        """Accept an invitation as the signed-in user, whose email must be the invited one.
        (Someone without an account accepts on the web page, which creates it.)"""
        data = AcceptInput(data=request.data)
        data.is_valid(raise_exception=True)
        membership = team.invitation_accept(token=data.validated_data["token"], user=request.user)
        out = AcceptOutput(
            {"clinic": membership.clinic, "role": membership.role},
            context={"roles": {membership.clinic_id: membership.role}},
        )
        return Response(out.data)
