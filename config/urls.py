from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from audit.api import AuditLogApi
from config import health
from frontdesk.api_messages import AgentMessageApi
from telephony import webhooks
from telephony.admin import ops_dashboard

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/ops/", admin.site.admin_view(ops_dashboard), name="admin-ops"),
    path("admin/", admin.site.urls),
    path("webhooks/livekit", webhooks.livekit_webhook, name="livekit-webhook"),
    path("api/v1/agent/messages", AgentMessageApi.as_view(), name="api-agent-messages"),
    path("api/v1/agent/", include("telephony.api.agent_urls")),
    path("api/v1/clinics/<slug:slug>/", include("telephony.api.clinic_extra_urls")),
    path("api/v1/clinics/<slug:slug>/", include("webhooks.urls")),
    path("api/v1/clinics/<slug:slug>/", include("frontdesk.urls")),
    path("api/v1/clinics/<slug:slug>/audit-log/", AuditLogApi.as_view(), name="api-audit-log"),
    path("api/v1/", include("config.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("", include("audit.urls")),
    path("", include("twofactor.urls")),
    path("", include("webhooks.web_urls")),
    path("", include("frontdesk.web_urls")),
    path("", include("tenants.urls")),
]

handler404 = "config.errors.not_found"
handler500 = "config.errors.server_error"
