"""Let the staff groups see the call log and agent tokens (models added after 0002)."""

from django.db import migrations

MODELS = ("call", "testcall", "agenttoken")


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    db = schema_editor.connection.alias
    config = apps.get_app_config("telephony")
    config.models_module = True
    create_permissions(config, verbosity=0, apps=apps, using=db)
    config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    views = Permission.objects.using(db).filter(
        content_type__app_label="telephony", codename__in=[f"view_{m}" for m in MODELS]
    )
    for group in Group.objects.using(db).filter(name__in=("support", "operator")):
        group.permissions.add(*views)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    db = schema_editor.connection.alias
    views = Permission.objects.using(db).filter(
        content_type__app_label="telephony", codename__in=[f"view_{m}" for m in MODELS]
    )
    for group in Group.objects.using(db).filter(name__in=("support", "operator")):
        group.permissions.remove(*views)


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0002_console_permissions_and_groups"),
        ("telephony", "0003_calls_and_agent_tokens"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
