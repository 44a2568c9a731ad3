from django.urls import path

from twofactor import views

app_name = "twofactor"

urlpatterns = [
    path("login/code/", views.login_code, name="login_code"),
    path("account/two-factor/", views.account, name="account"),
    path(
        "clinics/<slug:slug>/team/two-factor/",
        views.clinic_requirement,
        name="clinic_requirement",
    ),
]
