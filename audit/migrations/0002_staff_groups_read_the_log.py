"""Both staff groups (support, operator) may read the audit log; nobody may change it."""

from django.db import migrations


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    db = schema_editor.connection.alias
    config = apps.get_app_config("audit")
    config.models_module = True
    create_permissions(config, verbosity=0, apps=apps, using=db)
    config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    view = Permission.objects.using(db).filter(
        content_type__app_label="audit", codename="view_auditentry"
    )
    for group in Group.objects.using(db).filter(name__in=("support", "operator")):
        group.permissions.add(*view)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0001_audit_entries"),
        ("tenants", "0004_merge_console_and_teams"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
