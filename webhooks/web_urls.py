"""Web pages: /clinics/<slug>/webhooks/..."""

from django.urls import path

from webhooks import views

app_name = "webhooks"
one = "clinics/<slug:slug>/webhooks/<str:endpoint_id>/"

urlpatterns = [
    path("clinics/<slug:slug>/webhooks/", views.endpoint_list, name="list"),
    path(one, views.endpoint_detail, name="detail"),
    path(one + "rotate-secret/", views.rotate_secret, name="rotate"),
    path(one + "test/", views.send_test, name="test"),
    path(one + "delete/", views.delete, name="delete"),
    path(one + "deliveries/<int:delivery_id>/resend/", views.resend, name="resend"),
]
