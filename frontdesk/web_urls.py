"""Web pages: /clinics/<slug>/hours/, /clinics/<slug>/clinic-info/, locations, after-hours
per line, messages."""

from django.urls import path

from frontdesk import views, views_locations, views_messages

app_name = "frontdesk"

urlpatterns = [
    path("clinics/<slug:slug>/hours/", views.hours, name="hours"),
    path("clinics/<slug:slug>/clinic-info/", views.clinic_info, name="clinic_info"),
    path(
        "clinics/<slug:slug>/receptionists/<int:receptionist_id>/after-hours/",
        views.after_hours,
        name="after_hours",
    ),
    path("clinics/<slug:slug>/locations/", views_locations.locations, name="locations"),
    path(
        "clinics/<slug:slug>/locations/<int:location_id>/",
        views_locations.location,
        name="location",
    ),
    path("clinics/<slug:slug>/messages/", views_messages.inbox, name="messages"),
    path(
        "clinics/<slug:slug>/messages/<int:message_id>/",
        views_messages.message_detail,
        name="message",
    ),
]
