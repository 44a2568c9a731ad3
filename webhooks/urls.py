"""/api/v1/clinics/<slug>/webhook-endpoints/..."""

from django.urls import path

from webhooks import api

one = "webhook-endpoints/<str:endpoint_id>/"

urlpatterns = [
    path("webhook-endpoints/", api.EndpointListApi.as_view(), name="api-webhook-endpoints"),
    path(one, api.EndpointDetailApi.as_view(), name="api-webhook-endpoint"),
    path(one + "rotate-secret/", api.RotateSecretApi.as_view(), name="api-webhook-rotate"),
    path(one + "test/", api.SendTestApi.as_view(), name="api-webhook-test"),
    path(one + "deliveries/", api.DeliveryListApi.as_view(), name="api-webhook-deliveries"),
    path(
        one + "deliveries/<int:delivery_id>/resend/",
        api.ResendApi.as_view(),
        name="api-webhook-resend",
    ),
]
