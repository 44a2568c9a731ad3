"""Staff console permissions, and the two staff groups that use them.

support: sees everything in admin (every view permission of tenants and telephony, plus
groups) and may run the dry-run plan; cannot change anything.
operator: everything support has, plus the mutating provisioning actions and editing a
clinic's settings and members. Superusers bypass groups. API tokens are left out on
purpose: viewing them shows their keys.
"""

from django.db import migrations

CONSOLE_APPS = ("tenants", "telephony")
OPERATOR_EXTRA = (
    ("tenants", "run_provisioning_actions"),
    ("tenants", "change_clinic"),
    ("tenants", "add_membership"),
    ("tenants", "change_membership"),
    ("tenants", "delete_membership"),
    ("telephony", "change_trunksettings"),
    ("telephony", "change_agentconfig"),
)


def _ensure_permissions(apps, schema_editor):
    """Permissions are normally created after `migrate` (post_migrate): create them now."""
    from django.contrib.auth.management import create_permissions

    for label in ("auth", *CONSOLE_APPS):
        config = apps.get_app_config(label)
        config.models_module = True
        create_permissions(config, verbosity=0, apps=apps, using=schema_editor.connection.alias)
        config.models_module = None


def create_groups(apps, schema_editor):
    _ensure_permissions(apps, schema_editor)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    db = schema_editor.connection.alias
    perms = Permission.objects.using(db)
    support_perms = list(
        perms.filter(content_type__app_label__in=CONSOLE_APPS, codename__startswith="view_")
    ) + list(perms.filter(content_type__app_label="auth", codename="view_group"))
    operator_perms = support_perms + [
        perms.get(content_type__app_label=app, codename=codename)
        for app, codename in OPERATOR_EXTRA
    ]
    for name, granted in (("support", support_perms), ("operator", operator_perms)):
        group, _ = Group.objects.using(db).get_or_create(name=name)
        group.permissions.add(*granted)


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=["support", "operator"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("tenants", "0001_initial"),
        ("telephony", "0002_upstream_status_and_orphans"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="clinic",
            options={
                "ordering": ["name"],
                "permissions": [
                    ("view_provisioning_plan", "Can run the dry-run provisioning plan"),
                    (
                        "run_provisioning_actions",
                        "Can re-provision, retry, suspend, resume and offboard clinics",
                    ),
                ],
            },
        ),
        migrations.RunPython(create_groups, remove_groups),
    ]
