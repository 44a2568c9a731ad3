"""/api/v1/clinics/<slug>/...: the call log and the test call (issue 6)."""

from django.urls import path

from telephony.api.calls import CallListApi, TestCallApi

urlpatterns = [
    path("calls/", CallListApi.as_view(), name="api-calls"),
    path("test-call/", TestCallApi.as_view(), name="api-test-call"),
]
