"""Secrets never show: not in the database in plaintext, not in logs, pages or API responses.

The flow below touches every place a secret passes through: signup (the account password),
carrier settings (the SIP password), provisioning through livekit-api against the emulator
(the LiveKit API secret signs every request; the SIP password goes upstream), failures that
log, and every page and API response that shows carrier settings.
"""

from __future__ import annotations

import logging

import pytest
from django.db import connection
from rest_framework.test import APIClient

from emulators.livekit.testing import EmulatorProcess
from telephony.provisioning.reconcile import reconcile_clinic
from telephony.ratelimit import reset_limiter

pytestmark = pytest.mark.django_db

SIP_PASSWORD = "Sip-Pa55word-Never-Shown"
ACCOUNT_PASSWORD = "Account-Pa55word-Never-Shown"
LIVEKIT_SECRET = "LiveKit-Secret-Never-Shown-0123456789"
SECRETS = (SIP_PASSWORD, ACCOUNT_PASSWORD, LIVEKIT_SECRET)


def dump_database() -> str:
    """Every row of every table, as text."""
    chunks = []
    with connection.cursor() as cur:
        for table in connection.introspection.table_names():
            cur.execute(f'SELECT * FROM "{table}"')
            chunks.append(repr(cur.fetchall()))
    return "\n".join(chunks)


def test_no_secret_in_db_logs_pages_or_api(settings, caplog):
    caplog.set_level(logging.DEBUG)
    with EmulatorProcess(api_key="devkey", api_secret=LIVEKIT_SECRET) as emu:
        settings.LIVEKIT_URL = emu.url
        settings.LIVEKIT_API_SECRET = LIVEKIT_SECRET
        settings.LIVEKIT_TIMEOUT_SECONDS = 2
        reset_limiter()
        anon = APIClient()
        r = anon.post(
            "/api/v1/signup",
            {
                "email": "s@secret.example",
                "password": ACCOUNT_PASSWORD,
                "clinic_name": "Secret Dental",
            },
            format="json",
        )
        assert r.status_code == 201
        slug, token = r.json()["clinic"]["slug"], r.json()["token"]
        from tenants.models import Clinic, User

        user = User.objects.get(email="s@secret.example")
        user.email_verified_at = user.date_joined
        user.save()
        clinic = Clinic.objects.get(slug=slug)
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        responses = [
            api.post(f"/api/v1/clinics/{slug}/numbers/", {"e164": "+14155550155"}, format="json"),
            api.put(
                f"/api/v1/clinics/{slug}/trunk-settings/",
                {"auth_username": "carrier", "auth_password": SIP_PASSWORD},
                format="json",
            ),
            api.post(f"/api/v1/clinics/{slug}/go-live/"),
        ]
        # Provisioning with a failure first (logged), then success.
        emu.control.add_faults(
            [{"method": "CreateSIPInboundTrunk", "action": "status", "status": 500, "count": 1}]
        )
        assert reconcile_clinic(clinic.pk).outcome == "retry"
        assert reconcile_clinic(clinic.pk).outcome == "converged"
        (trunk,) = emu.control.state()["inbound_trunks"]
        assert trunk["auth_password"] == SIP_PASSWORD  # it did reach LiveKit

        responses += [
            api.get(f"/api/v1/clinics/{slug}/trunk-settings/"),
            api.get(f"/api/v1/clinics/{slug}/provisioning/"),
            api.get(f"/api/v1/clinics/{slug}/"),
        ]
        web = APIClient()
        web.force_login(user)
        for path in ("", "settings/carrier/", "settings/details/", "status.json"):
            responses.append(web.get(f"/clinics/{slug}/{path}"))
        staff = User.objects.create_superuser(email="root@secret.example", password="x-Admin-Pa55")
        web.force_login(staff)
        responses.append(web.get(f"/admin/tenants/clinic/{clinic.pk}/change/"))
        responses.append(web.get("/admin/telephony/provisioning/"))
        reset_limiter()

    for r in responses:
        assert r.status_code in (200, 201, 202), (r.request["PATH_INFO"], r.status_code)
        text = r.content.decode(errors="replace")
        assert [s for s in SECRETS if s in text] == [], r.request["PATH_INFO"]
    database = dump_database()
    assert [s for s in SECRETS if s in database] == []
    assert "gAAAAA" in database  # the SIP password is there, as ciphertext
    logs = caplog.text + "\n".join(str(rec.args) for rec in caplog.records)
    assert caplog.records, "the flow logged nothing: the scan would prove nothing"
    assert [s for s in SECRETS if s in logs] == []
