"""GET|PUT /clinics/{slug}/agent/: every change bumps the config version."""

from __future__ import annotations

import pytest

from telephony.models import DEFAULT_GREETING, DEFAULT_INSTRUCTIONS, Provisioning, Receptionist
from tenants.models import Clinic
from tests.api_helpers import api_as, clinic_url, iso

pytestmark = pytest.mark.django_db


def _url(clinic: Clinic) -> str:
    return clinic_url(clinic, "agent/")


def _agent_dict(clinic: Clinic) -> dict:
    c = Receptionist.objects.get(clinic=clinic)
    return {
        "agent_name": c.agent_name,
        "greeting": c.greeting,
        "instructions": c.instructions,
        "language": c.language,
        "voice": c.voice,
        "stt_model": c.stt_model,
        "llm_model": c.llm_model,
        "tts_model": c.tts_model,
        "recording_consent_required": c.recording_consent_required,
        "version": c.version,
        "updated_at": iso(c.updated_at),
    }


def test_defaults(clinic, viewer):
    r = api_as(viewer).get(_url(clinic))
    assert r.status_code == 200
    assert r.json() == {
        "agent_name": "",
        "greeting": DEFAULT_GREETING.format(clinic="Bright Smile Dental"),
        "instructions": DEFAULT_INSTRUCTIONS.format(clinic="Bright Smile Dental"),
        "language": "en-US",
        "voice": "coral",
        "stt_model": "deepgram/nova-3",
        "llm_model": "openai/gpt-4o-mini",
        "tts_model": "openai/gpt-4o-mini-tts",
        "recording_consent_required": True,
        "version": 1,
        "updated_at": r.json()["updated_at"],
    }
    assert r.json() == _agent_dict(clinic)


def test_put_changes_fields_and_bumps_the_version(clinic, owner):
    body = {
        "greeting": "Hi, Bright Smile here!",
        "language": "es-ES",
        "voice": "sage",
        "llm_model": "openai/gpt-4.1",
        "recording_consent_required": False,
        "agent_name": "receptionist-b",
    }
    r = api_as(owner).put(_url(clinic), body, format="json")
    assert r.status_code == 200, r.content
    assert r.json() == _agent_dict(clinic)
    assert r.json() | {"updated_at": None} == {
        **_agent_dict(clinic),
        **body,
        "version": 2,
        "updated_at": None,
    }


def test_put_with_nothing_changed_keeps_the_version(clinic, owner):
    r = api_as(owner).put(_url(clinic), {"voice": "coral"}, format="json")
    assert r.status_code == 200
    assert r.json()["version"] == 1


def test_a_change_to_a_live_clinic_reprovisions(clinic, owner):
    Clinic.objects.filter(pk=clinic.pk).update(state=Clinic.State.LIVE)
    api_as(owner).put(_url(clinic), {"greeting": "Hello"}, format="json")
    assert Provisioning.objects.get(clinic=clinic).generation == 1


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"language": "xx-XX"}, "language", "not a valid choice"),
        ({"voice": ["coral"]}, "voice", "JSON string"),
        ({"greeting": ""}, "greeting", "blank"),
        ({"greeting": "g" * 501}, "greeting", "no more than 500"),
        ({"instructions": "i" * 8001}, "instructions", "no more than 8000"),
        ({"instructions": 3}, "instructions", "JSON string"),
        ({"agent_name": "has space"}, "agent_name", "does not match"),
        ({"agent_name": 12}, "agent_name", "JSON string"),
        ({"recording_consent_required": "false"}, "recording_consent_required", "JSON boolean"),
        ({"version": 9}, "version", "read-only"),
        ({"clinic": "x"}, "clinic", "Unknown field"),
    ],
)
def test_bad_input_names_the_field_and_changes_nothing(clinic, owner, body, field, words):
    before = _agent_dict(clinic)
    r = api_as(owner).put(_url(clinic), body, format="json")
    assert r.status_code == 400, r.content
    assert words in " ".join(r.json()[field]), r.json()
    assert _agent_dict(clinic) == before


def test_viewer_cannot_put(clinic, viewer):
    r = api_as(viewer).put(_url(clinic), {"greeting": "Hacked"}, format="json")
    assert r.status_code == 403
    assert Receptionist.objects.get(clinic=clinic).version == 1


def test_outsider_gets_404(clinic, outsider):
    client = api_as(outsider)
    assert client.get(_url(clinic)).status_code == 404
    assert client.put(_url(clinic), {"greeting": "Hacked"}, format="json").status_code == 404
    assert Receptionist.objects.get(clinic=clinic).version == 1
