from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks to clinics"

    def ready(self) -> None:
        from telephony import call_events
        from webhooks import receivers  # connects the signal receivers

        call_events.CLINIC_FACTS[receivers.HAS_ENDPOINTS] = receivers.HAS_ENDPOINTS_SQL
