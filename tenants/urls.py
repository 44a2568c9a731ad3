"""Server-rendered web pages: signup, onboarding and the clinic dashboard."""

from django.urls import path

from telephony import views as telephony_views
from tenants.views import (
    auth,
    carrier_buy,
    carrier_release,
    dashboard,
    onboarding,
    own_project,
    password_reset,
    receptionists,
    team,
    tokens,
)

app_name = "tenants"

urlpatterns = [
    path("", auth.landing, name="landing"),
    path("signup/", auth.signup, name="signup"),
    path("login/", auth.LoginView.as_view(), name="login"),
    path("logout/", auth.LogoutView.as_view(), name="logout"),
    path("password-reset/", password_reset.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password-reset/sent/",
        password_reset.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        password_reset.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/done/",
        password_reset.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("verify-email/resend/", auth.verify_email_resend, name="verify_email_resend"),
    path("verify-email/<str:token>/", auth.verify_email, name="verify_email"),
    path("home/", auth.home, name="home"),
    path("clinics/<slug:slug>/", dashboard.dashboard, name="dashboard"),
    path("clinics/<slug:slug>/status.json", dashboard.status_json, name="status"),
    path("clinics/<slug:slug>/retry/", dashboard.retry, name="retry"),
    path("clinics/<slug:slug>/move/confirm/", dashboard.move_confirm, name="move_confirm"),
    path("clinics/<slug:slug>/livekit-project/", own_project.own_project, name="own_project"),
    path("clinics/<slug:slug>/offboard/", dashboard.offboard, name="offboard"),
    path("clinics/<slug:slug>/test-call/", telephony_views.test_call, name="test_call"),
    path("clinics/<slug:slug>/calls/", telephony_views.call_log, name="call_log"),
    path("clinics/<slug:slug>/calls.csv", telephony_views.call_log_csv, name="call_log_csv"),
    path(
        "clinics/<slug:slug>/calls/<str:room_sid>/",
        telephony_views.call_detail,
        name="call_detail",
    ),
    path("clinics/<slug:slug>/go-live/", onboarding.go_live, name="go_live"),
    path("clinics/<slug:slug>/setup/", onboarding.setup_start, name="setup_start"),
    path(
        "clinics/<slug:slug>/setup/numbers/remove/",
        onboarding.number_remove,
        name="number_remove",
    ),
    path("clinics/<slug:slug>/setup/<slug:step>/", onboarding.setup_step, name="setup"),
    path("clinics/<slug:slug>/carrier/buy/", carrier_buy.carrier_buy, name="carrier_buy"),
    path(
        "clinics/<slug:slug>/carrier/release/",
        carrier_release.carrier_release,
        name="carrier_release",
    ),
    path(
        "clinics/<slug:slug>/carrier/release/<uuid:release_id>/retry/",
        carrier_release.carrier_release_retry,
        name="carrier_release_retry",
    ),
    path("clinics/<slug:slug>/settings/", onboarding.settings_start, name="settings_start"),
    path(
        "clinics/<slug:slug>/settings/<slug:section>/",
        onboarding.settings_section,
        name="settings",
    ),
    path(
        "clinics/<slug:slug>/receptionists/",
        receptionists.receptionist_list,
        name="receptionists",
    ),
    path(
        "clinics/<slug:slug>/receptionists/add/",
        receptionists.receptionist_add,
        name="receptionist_add",
    ),
    path(
        "clinics/<slug:slug>/receptionists/<int:receptionist_id>/",
        receptionists.receptionist_edit,
        name="receptionist_edit",
    ),
    path(
        "clinics/<slug:slug>/receptionists/<int:receptionist_id>/delete/",
        receptionists.receptionist_remove,
        name="receptionist_delete",
    ),
    path("clinics/<slug:slug>/numbers/assign/", receptionists.number_assign, name="number_assign"),
    path("clinics/<slug:slug>/team/", team.team_page, name="team"),
    path("clinics/<slug:slug>/team/invite/", team.invite, name="team_invite"),
    path(
        "clinics/<slug:slug>/team/members/<int:user_id>/role/",
        team.member_role,
        name="team_member_role",
    ),
    path(
        "clinics/<slug:slug>/team/members/<int:user_id>/remove/",
        team.member_remove,
        name="team_member_remove",
    ),
    path(
        "clinics/<slug:slug>/team/invitations/<uuid:invitation_id>/revoke/",
        team.invitation_revoke,
        name="team_invitation_revoke",
    ),
    path(
        "clinics/<slug:slug>/team/invitations/<uuid:invitation_id>/resend/",
        team.invitation_resend,
        name="team_invitation_resend",
    ),
    path("invitations/<str:token>/", team.invitation, name="invitation"),
    path("account/password/", team.PasswordChangeView.as_view(), name="password_change"),
    path("account/tokens/", tokens.api_tokens, name="api_tokens"),
    path(
        "account/tokens/<int:token_id>/revoke/",
        tokens.api_token_revoke_view,
        name="api_token_revoke",
    ),
]
