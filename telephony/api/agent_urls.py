"""/api/v1/agent/: endpoints for the agent worker (agent service token auth)."""

from django.urls import path

from telephony.api.agent import AgentConfigApi

urlpatterns = [
    path("config", AgentConfigApi.as_view(), name="api-agent-config"),
]
