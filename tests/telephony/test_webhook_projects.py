"""POST /webhooks/livekit with several LiveKit projects: each delivery is verified with the
key of the project that signed it and recorded only for that project's clinics
(decision 0070)."""

from __future__ import annotations

import pytest

from telephony.models import Call, LiveKitProject
from tests.factories import make_clinic
from tests.telephony.test_webhooks import call_events, room_of
from tests.telephony.webhook_helpers import KEY, SECRET, body, sign

pytestmark = pytest.mark.django_db

URL = "/webhooks/livekit"
B_KEY, B_SECRET = "APIprojectB", "secret-of-project-b-0123456789abcdefgh"


@pytest.fixture(autouse=True)
def livekit_keys(settings):
    settings.LIVEKIT_API_KEY = KEY
    settings.LIVEKIT_API_SECRET = SECRET


@pytest.fixture
def project_b(db):
    return LiveKitProject.objects.create(
        name="project-b",
        region="eu",
        url="https://b.livekit.example",
        api_key=B_KEY,
        api_secret=B_SECRET,
        sip_uri="sip:b.example",
    )


def post(client, text, *, key=KEY, secret=SECRET):
    auth = sign(text, key=key, secret=secret)
    return client.post(
        URL, data=text, content_type="application/webhook+json", HTTP_AUTHORIZATION=auth
    )


def test_a_project_b_webhook_is_recorded_for_a_project_b_clinic(client, project_b):
    clinic = make_clinic(name="Berlin Dental")
    clinic.livekit_project = project_b
    clinic.save()
    for text in call_events(clinic):
        r = post(client, text, key=B_KEY, secret=B_SECRET)
        assert r.status_code == 200 and r.json()["recorded"], r.content
    assert Call.objects.get().clinic_id == clinic.pk


def test_project_b_cannot_write_into_a_default_project_clinic(client, project_b):
    clinic_a = make_clinic(name="Default Dental")
    text = body("room_started", room=room_of(clinic_a))
    r = post(client, text, key=B_KEY, secret=B_SECRET)
    assert r.status_code == 403
    assert r.json() == {"error": "the room is a clinic's of another LiveKit project"}
    assert not Call.objects.exists()
    # The default project's own delivery for the same room is recorded.
    assert post(client, text).json()["recorded"]


def test_the_default_key_cannot_write_into_a_project_b_clinic(client, project_b):
    clinic_b = make_clinic(name="Berlin Dental")
    clinic_b.livekit_project = project_b
    clinic_b.save()
    r = post(client, body("room_started", room=room_of(clinic_b)))
    assert r.status_code == 403 and not Call.objects.exists()


def test_a_project_key_with_the_wrong_secret_is_401(client, project_b):
    clinic = make_clinic(name="Berlin Dental")
    r = post(
        client,
        body("room_started", room=room_of(clinic)),
        key=B_KEY,
        secret="not-b-secret-0123456789abcdefghijklmn",
    )
    assert r.status_code == 401 and not Call.objects.exists()


def test_a_separate_webhook_key_is_used_when_set(client, project_b):
    project_b.webhook_key = "APIhooksB"
    project_b.webhook_secret = "hooks-secret-of-b-0123456789abcdefgh"
    project_b.save()
    clinic = make_clinic(name="Berlin Dental")
    clinic.livekit_project = project_b
    clinic.save()
    text = body("room_started", room=room_of(clinic))
    assert post(client, text, key=B_KEY, secret=B_SECRET).status_code == 401
    r = post(client, text, key="APIhooksB", secret="hooks-secret-of-b-0123456789abcdefgh")
    assert r.status_code == 200 and r.json()["recorded"]
