"""/api/v1/clinics/<slug>/...: the call log and the test call (issue 6)."""

from django.urls import path

from telephony.api.calls import CallDetailApi, CallListApi, TestCallApi

urlpatterns = [
    path("calls/", CallListApi.as_view(), name="api-calls"),
    path("calls/<str:room_sid>/", CallDetailApi.as_view(), name="api-call"),
    path("test-call/", TestCallApi.as_view(), name="api-test-call"),
]
