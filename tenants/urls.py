"""Server-rendered web pages: signup, onboarding and the clinic dashboard."""

app_name = "tenants"
urlpatterns: list = []
