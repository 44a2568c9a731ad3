"""Clinics belong to a LiveKit project; the environment's LIVEKIT_* settings are the
project named `default`, and every existing clinic is placed in it (decision 0070).
Operators may view project pages (never a secret); support sees project names only, on the
clinic pages."""

import django.db.models.deletion
from django.db import migrations, models


def default_project(apps, schema_editor):
    db = schema_editor.connection.alias
    Project = apps.get_model("telephony", "LiveKitProject")
    Clinic = apps.get_model("tenants", "Clinic")
    project, _ = Project.objects.using(db).get_or_create(
        name="default", defaults={"from_environment": True}
    )
    Clinic.objects.using(db).filter(livekit_project__isnull=True).update(livekit_project=project)


def grant_operator_view(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    db = schema_editor.connection.alias
    config = apps.get_app_config("telephony")
    config.models_module = True
    create_permissions(config, verbosity=0, apps=apps, using=db)
    config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    view = Permission.objects.using(db).filter(
        content_type__app_label="telephony", codename="view_livekitproject"
    )
    for group in Group.objects.using(db).filter(name="operator"):
        group.permissions.add(*view)


class Migration(migrations.Migration):

    dependencies = [
        ('telephony', '0005_livekit_projects'),
        ('tenants', '0006_api_tokens'),
    ]

    operations = [
        migrations.AddField(
            model_name='clinic',
            name='livekit_project',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='clinics', to='telephony.livekitproject', verbose_name='LiveKit project'),
        ),
        migrations.RunPython(default_project, migrations.RunPython.noop),
        migrations.RunPython(grant_operator_view, migrations.RunPython.noop),
    ]
