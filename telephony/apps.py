from django.apps import AppConfig


class TelephonyConfig(AppConfig):
    name = "telephony"
    verbose_name = "Telephony and provisioning"

    def ready(self) -> None:
        # Agent token admin lives in its own module; registering it here keeps it separate
        # from the clinic and provisioning admin.
        from telephony import admin_tokens  # noqa: F401
