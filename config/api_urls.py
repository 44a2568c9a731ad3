"""The HTTP API, /api/v1/ (design.md §7)."""

from django.urls import path

from telephony.api import carrier, move, own_project, purchases, releases
from telephony.api import receptionists as rec
from telephony.api import views as tel
from tenants.api import team
from tenants.api import views as ten

clinic = "clinics/<slug:slug>/"

urlpatterns = [
    path("signup", ten.SignupApi.as_view(), name="api-signup"),
    path("auth/token", ten.TokenApi.as_view(), name="api-token"),
    path("tokens/", ten.ApiTokenListApi.as_view(), name="api-tokens"),
    path("tokens/<int:token_id>/", ten.ApiTokenDetailApi.as_view(), name="api-token-detail"),
    path("clinics/", ten.ClinicListApi.as_view(), name="api-clinics"),
    path(clinic, ten.ClinicDetailApi.as_view(), name="api-clinic"),
    path(clinic + "numbers/", tel.NumberListApi.as_view(), name="api-numbers"),
    path(clinic + "numbers/<str:e164>/", tel.NumberDetailApi.as_view(), name="api-number"),
    path(clinic + "trunk-settings/", tel.TrunkSettingsApi.as_view(), name="api-trunk-settings"),
    path(clinic + "carrier/", carrier.CarrierApi.as_view(), name="api-carrier"),
    path(
        clinic + "carrier/numbers/", carrier.CarrierNumbersApi.as_view(), name="api-carrier-numbers"
    ),
    path(clinic + "move/", move.MoveApi.as_view(), name="api-move"),
    path(clinic + "livekit-project/", own_project.OwnProjectApi.as_view(), name="api-own-project"),
    path(
        clinic + "move/carrier-confirmed/",
        move.MoveCarrierConfirmedApi.as_view(),
        name="api-move-carrier-confirmed",
    ),
    path(
        clinic + "carrier/available-numbers/",
        purchases.AvailableNumbersApi.as_view(),
        name="api-carrier-available-numbers",
    ),
    path(
        clinic + "carrier/purchases/",
        purchases.PurchaseListApi.as_view(),
        name="api-carrier-purchases",
    ),
    path(
        clinic + "carrier/purchases/<uuid:purchase_id>/",
        purchases.PurchaseDetailApi.as_view(),
        name="api-carrier-purchase",
    ),
    path(
        clinic + "carrier/releases/",
        releases.ReleaseListApi.as_view(),
        name="api-carrier-releases",
    ),
    path(
        clinic + "carrier/releases/<uuid:release_id>/",
        releases.ReleaseDetailApi.as_view(),
        name="api-carrier-release",
    ),
    path(
        clinic + "carrier/releases/<uuid:release_id>/retry/",
        releases.ReleaseRetryApi.as_view(),
        name="api-carrier-release-retry",
    ),
    path(
        clinic + "carrier/confirmation/",
        carrier.CarrierConfirmationApi.as_view(),
        name="api-carrier-confirmation",
    ),
    path(clinic + "agent/", tel.AgentApi.as_view(), name="api-agent"),
    path(clinic + "receptionists/", rec.ReceptionistListApi.as_view(), name="api-receptionists"),
    path(
        clinic + "receptionists/<int:receptionist_id>/",
        rec.ReceptionistDetailApi.as_view(),
        name="api-receptionist",
    ),
    path(clinic + "go-live/", tel.GoLiveApi.as_view(), name="api-go-live"),
    path(clinic + "offboard/", tel.OffboardApi.as_view(), name="api-offboard"),
    path(clinic + "retry/", tel.RetryApi.as_view(), name="api-retry"),
    path(clinic + "provisioning/", tel.ProvisioningApi.as_view(), name="api-provisioning"),
    path(clinic + "members/", team.MemberListApi.as_view(), name="api-members"),
    path(clinic + "members/<int:user_id>/", team.MemberDetailApi.as_view(), name="api-member"),
    path(clinic + "invitations/", team.InvitationListApi.as_view(), name="api-invitations"),
    path(
        clinic + "invitations/<uuid:invitation_id>/",
        team.InvitationDetailApi.as_view(),
        name="api-invitation",
    ),
    path(
        clinic + "invitations/<uuid:invitation_id>/resend/",
        team.InvitationResendApi.as_view(),
        name="api-invitation-resend",
    ),
    path("invitations/accept", team.InvitationAcceptApi.as_view(), name="api-invitation-accept"),
]
