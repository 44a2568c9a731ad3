from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks to clinics"

    def ready(self) -> None:
        from webhooks import receivers  # noqa: F401 (connects the signal receivers)
