"""Several receptionists per clinic (issue 15, decision 0064).

Today's one agent configuration per clinic becomes the clinic's first receptionist, in
place: the row, its id, its version and its audit history are kept (the model is renamed,
and django.contrib.contenttypes renames its content type, which the audit entries point
at). It gets the name "Main line" and the line slug "main"; every number is assigned to it.
A clinic that somehow had no configuration gets the default one, so no number is left
without a receptionist.
"""

import django.db.models.deletion
import django.db.models.functions.text
import django.utils.timezone
from django.db import migrations, models

FIRST_NAME = "Main line"
FIRST_SLUG = "main"
# The defaults of telephony.models.setup at the time of this migration.
GREETING = "Thank you for calling {clinic}. How can I help you today?"
INSTRUCTIONS = (
    "You are the friendly, professional receptionist of {clinic}, a dental practice. "
    "Help callers book, move or cancel appointments, answer questions about opening hours, "
    "location, services and insurance, and take a message when you cannot help. "
    "Ask for the caller's name, date of birth and a call-back number before booking. "
    "Never give medical advice or diagnoses; for severe pain, swelling, bleeding or trauma, "
    "tell the caller to seek emergency care now. Keep answers short and clear, speak "
    "naturally, and confirm details back to the caller."
)


def assign_numbers(apps, schema_editor):
    Receptionist = apps.get_model("telephony", "Receptionist")
    PhoneNumber = apps.get_model("telephony", "PhoneNumber")
    Clinic = apps.get_model("tenants", "Clinic")
    first = {}
    for row in Receptionist.objects.order_by("id"):
        first.setdefault(row.clinic_id, row.pk)
    missing = PhoneNumber.objects.exclude(clinic_id__in=list(first)).values_list(
        "clinic_id", flat=True
    )
    for clinic in Clinic.objects.filter(pk__in=set(missing)):
        row = Receptionist.objects.create(
            clinic=clinic,
            name=FIRST_NAME,
            slug=FIRST_SLUG,
            greeting=GREETING.format(clinic=clinic.name),
            instructions=INSTRUCTIONS.format(clinic=clinic.name),
        )
        first[clinic.pk] = row.pk
    for clinic_id, receptionist_id in first.items():
        PhoneNumber.objects.filter(clinic_id=clinic_id).update(receptionist_id=receptionist_id)


class Migration(migrations.Migration):
    dependencies = [
        ("telephony", "0006_carrier_account"),
        ("tenants", "0006_api_tokens"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RenameModel("AgentConfig", "Receptionist"),
        migrations.AlterField(
            model_name="receptionist",
            name="clinic",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="receptionists",
                to="tenants.clinic",
            ),
        ),
        migrations.AddField(
            model_name="receptionist",
            name="name",
            field=models.CharField(default=FIRST_NAME, max_length=60),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="receptionist",
            name="slug",
            field=models.CharField(default=FIRST_SLUG, editable=False, max_length=20),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="receptionist",
            name="created_at",
            field=models.DateTimeField(default=django.utils.timezone.now, editable=False),
        ),
        migrations.AlterModelOptions(name="receptionist", options={"ordering": ["clinic", "id"]}),
        migrations.AddConstraint(
            model_name="receptionist",
            constraint=models.UniqueConstraint(
                models.F("clinic"),
                django.db.models.functions.text.Lower("name"),
                name="receptionist_name_unique_in_clinic",
            ),
        ),
        migrations.AddConstraint(
            model_name="receptionist",
            constraint=models.UniqueConstraint(
                fields=("clinic", "slug"), name="receptionist_slug_unique_in_clinic"
            ),
        ),
        migrations.AddConstraint(
            model_name="receptionist",
            constraint=models.CheckConstraint(
                condition=models.Q(slug__regex="^[a-z][a-z0-9-]{0,19}$"),
                name="receptionist_slug_format",
            ),
        ),
        migrations.AddField(
            model_name="phonenumber",
            name="receptionist",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.RESTRICT,
                related_name="numbers",
                to="telephony.receptionist",
            ),
        ),
        migrations.RunPython(assign_numbers, migrations.RunPython.noop),
    ]
