"""Every number has a receptionist (0007 assigned them; a separate migration, so that
PostgreSQL has no pending trigger events from 0007's updates when the column is altered)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("telephony", "0007_receptionists")]

    operations = [
        migrations.AlterField(
            model_name="phonenumber",
            name="receptionist",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.RESTRICT,
                related_name="numbers",
                to="telephony.receptionist",
            ),
        ),
    ]
