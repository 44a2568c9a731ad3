from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit log"

    def ready(self) -> None:
        from django.conf import settings
        from django.core.exceptions import ImproperlyConfigured

        from audit import registry

        if settings.AUDIT_LOG_RETENTION_DAYS < 1:
            raise ImproperlyConfigured("AUDIT_LOG_RETENTION_DAYS must be at least 1 (days).")
        registry.register_models()
