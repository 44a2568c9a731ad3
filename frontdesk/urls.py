"""/api/v1/clinics/<slug>/...: hours, clinic facts, locations, after-hours behaviour and
messages (issue 15)."""

from django.urls import path

from frontdesk import api, api_locations, api_messages

urlpatterns = [
    path("hours/", api.HoursApi.as_view(), name="api-hours"),
    path("clinic-info/", api.ClinicInfoApi.as_view(), name="api-clinic-info"),
    path(
        "receptionists/<int:receptionist_id>/after-hours/",
        api.AfterHoursApi.as_view(),
        name="api-after-hours",
    ),
    path("locations/", api_locations.LocationListApi.as_view(), name="api-locations"),
    path(
        "locations/<int:location_id>/",
        api_locations.LocationDetailApi.as_view(),
        name="api-location",
    ),
    path("messages/email/", api_messages.MessageEmailApi.as_view(), name="api-message-email"),
    path("messages/", api_messages.MessageListApi.as_view(), name="api-messages"),
    path("messages/<int:message_id>/", api_messages.MessageDetailApi.as_view(), name="api-message"),
]
