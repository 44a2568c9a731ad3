"""/api/v1/agent/: endpoints for the agent worker (agent service token auth)."""

from django.urls import path

from telephony.api.agent import AgentConfigApi, CallOutcomeApi

urlpatterns = [
    path("config", AgentConfigApi.as_view(), name="api-agent-config"),
    path("calls/<str:room_name>/outcome", CallOutcomeApi.as_view(), name="api-agent-call-outcome"),
]
