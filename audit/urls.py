from django.urls import path

from audit import views

app_name = "audit"

urlpatterns = [
    path("clinics/<slug:slug>/audit/", views.audit_log, name="log"),
    path("clinics/<slug:slug>/audit.csv", views.audit_log_csv, name="log_csv"),
]
