"""LiveKit projects (decision 0070); the default one is created by tenants 0007."""

import django.core.validators
import telephony.crypto
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('telephony', '0004_call_outcomes_and_policy'),
    ]

    operations = [
        migrations.CreateModel(
            name='LiveKitProject',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=40, unique=True, validators=[django.core.validators.RegexValidator('^[a-z0-9][a-z0-9-]{0,39}$', 'Use 1 to 40 lowercase letters, digits or hyphens, starting with a letter or digit.')])),
                ('region', models.CharField(blank=True, help_text='A label clinics choose at signup when more than one region is open (eu, us).', max_length=40, validators=[django.core.validators.RegexValidator('^[a-z0-9][a-z0-9-]{0,39}$|^$', 'Use lowercase letters, digits or hyphens (e.g. eu, us-east), or leave it empty.')])),
                ('url', models.URLField(blank=True, max_length=300, verbose_name='server URL')),
                ('api_key', models.CharField(blank=True, max_length=200, verbose_name='API key')),
                ('api_secret', telephony.crypto.EncryptedTextField(blank=True, verbose_name='API secret')),
                ('sip_uri', models.CharField(blank=True, help_text='What clinics give their carrier.', max_length=300, verbose_name='SIP URI')),
                ('webhook_key', models.CharField(blank=True, help_text="The API key LiveKit signs this project's webhooks with (empty: the API key).", max_length=200, verbose_name='webhook API key')),
                ('webhook_secret', telephony.crypto.EncryptedTextField(blank=True, help_text='Its secret (empty: the API secret).', verbose_name='webhook API secret')),
                ('capacity_weight', models.PositiveIntegerField(default=1, help_text="Share of new clinics among the open projects of a region (2 takes twice 1's).", validators=[django.core.validators.MinValueValidator(1)])),
                ('accepting_new_clinics', models.BooleanField(default=True)),
                ('status', models.CharField(choices=[('active', 'Active'), ('draining', 'Draining (clinics being moved out)'), ('retired', 'Retired')], default='active', max_length=16)),
                ('from_environment', models.BooleanField(default=False, editable=False, help_text='URL, key, secret and SIP URI come from the LIVEKIT_* settings.')),
                ('auth_failed_fingerprint', models.CharField(blank=True, editable=False, max_length=64)),
                ('auth_failed_at', models.DateTimeField(blank=True, editable=False, null=True)),
                ('auth_failed_detail', models.TextField(blank=True, editable=False)),
                ('last_drift_scan_at', models.DateTimeField(blank=True, editable=False, null=True)),
                ('last_drift_scan', models.JSONField(blank=True, default=dict, editable=False)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
            ],
            options={
                'verbose_name': 'LiveKit project',
                'ordering': ['name'],
                'constraints': [models.CheckConstraint(condition=models.Q(('capacity_weight__gte', 1)), name='livekit_project_weight_positive')],
            },
        ),
    ]
