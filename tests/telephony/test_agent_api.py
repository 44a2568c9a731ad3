"""GET /api/v1/agent/config: agent token auth, ETag/304, 404 for clinics not served."""

from __future__ import annotations

import uuid

import pytest

from telephony.agent_tokens import agent_token_create, agent_token_revoke
from telephony.models import Receptionist
from telephony.services import agent_config_update
from tenants.models import Clinic
from tests.api_helpers import user_token
from tests.factories import make_clinic

pytestmark = pytest.mark.django_db
URL = "/api/v1/agent/config"


@pytest.fixture
def token():
    return agent_token_create(name="agent")


@pytest.fixture
def agent(api_client, token):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token[1]}")
    return api_client


@pytest.fixture
def live(clinic):
    Clinic.objects.filter(pk=clinic.pk).update(state=Clinic.State.LIVE)
    clinic.refresh_from_db()
    return clinic


def expected(clinic):
    config = Receptionist.objects.get(clinic=clinic)
    return {
        "clinic": str(clinic.pk),
        "clinic_name": clinic.name,
        "receptionist": config.pk,
        "receptionist_name": "Main line",
        "line": "main",
        "config_version": config.version,
        "agent_name": "switchboard-receptionist",
        "greeting": config.greeting,
        "instructions": config.instructions,
        "language": "en-US",
        "voice": "coral",
        "stt_model": "deepgram/nova-3",
        "llm_model": "openai/gpt-4o-mini",
        "tts_model": "openai/gpt-4o-mini-tts",
        "recording_consent_required": True,
        "keep_transcripts": True,
        # No hours set: open around the clock (tests/frontdesk cover hours).
        "open_now": True,
        "open_until": None,
        "opens_at": None,
        "timezone": clinic.timezone,
        "hours": {"set": False, "weekly": [], "closures": []},
        "location": None,
        "after_hours": {"action": "message", "greeting": "", "instructions": "", "route_to": None},
        "knowledge": {
            "address": "",
            "directions": "",
            "services": [],
            "insurers": [],
            "languages": [],
            "emergency_number": "",
            "faqs": [],
        },
    }


def test_it_returns_the_clinic_config_with_an_etag_of_its_version(agent, live):
    r = agent.get(URL, {"clinic": str(live.pk)})
    assert r.status_code == 200
    assert r.json() == expected(live)
    assert r["ETag"].startswith(f'"{live.pk}-{Receptionist.objects.first_of(live).pk}-1-')
    assert "no-cache" in r["Cache-Control"] and "private" in r["Cache-Control"]


def test_it_answers_304_while_the_version_is_unchanged_and_200_after_a_change(agent, live):
    etag = agent.get(URL, {"clinic": str(live.pk)})["ETag"]
    r = agent.get(URL, {"clinic": str(live.pk)}, HTTP_IF_NONE_MATCH=etag)
    assert r.status_code == 304 and r["ETag"] == etag and not r.content
    agent_config_update(clinic=live, greeting="Hello from v2")
    r = agent.get(URL, {"clinic": str(live.pk)}, HTTP_IF_NONE_MATCH=etag)
    assert r.status_code == 200
    assert r.json()["config_version"] == 2 and r.json()["greeting"] == "Hello from v2"
    assert r["ETag"].startswith(f'"{live.pk}-{Receptionist.objects.first_of(live).pk}-2-')


def test_it_resolves_the_clinic_by_room_name(agent, live):
    make_clinic(name="Bright Smile Dental Two")  # another prefix starting like this one
    room = f"{live.room_prefix}_4567_Ab3dE5fG7hJk"
    r = agent.get(URL, {"room": room})
    assert r.status_code == 200 and r.json()["clinic"] == str(live.pk)


@pytest.mark.parametrize(
    "params",
    [
        {"clinic": str(uuid.uuid4())},
        {"clinic": "not-a-uuid"},
        {"room": "nobody_4567_Ab3dE5fG7hJk"},
        {"room": "no-separator"},
    ],
)
def test_it_is_404_for_unknown_clinics(agent, live, params):
    assert agent.get(URL, params).status_code == 404


@pytest.mark.parametrize("state", [Clinic.State.DRAFT, Clinic.State.OFFBOARDED])
def test_it_is_404_for_clinics_that_are_not_live(agent, clinic, state):
    Clinic.objects.filter(pk=clinic.pk).update(state=state)
    assert agent.get(URL, {"clinic": str(clinic.pk)}).status_code == 404
    assert agent.get(URL, {"room": f"{clinic.room_prefix}_4567_x"}).status_code == 404


def test_it_is_400_without_clinic_or_room(agent, live):
    r = agent.get(URL)
    assert r.status_code == 400 and "clinic" in r.json()


def test_it_is_401_without_a_token(api_client, live):
    r = api_client.get(URL, {"clinic": str(live.pk)})
    assert r.status_code == 401
    assert r["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Bearer sbat_wrong", "Bearer", "Bearer a b", "Basic eDp5"])
def test_it_is_401_for_a_bad_token(api_client, live, token, header):
    api_client.credentials(HTTP_AUTHORIZATION=header)
    assert api_client.get(URL, {"clinic": str(live.pk)}).status_code == 401


def test_it_is_401_for_a_revoked_token(agent, live, token):
    agent_token_revoke(token=token[0])
    assert agent.get(URL, {"clinic": str(live.pk)}).status_code == 401


def test_user_credentials_are_not_agent_credentials(api_client, live, owner):
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {user_token(owner)}")
    assert api_client.get(URL, {"clinic": str(live.pk)}).status_code == 401
    api_client.credentials()
    api_client.force_login(owner)
    assert api_client.get(URL, {"clinic": str(live.pk)}).status_code == 401


def test_a_304_is_one_statement_and_a_200_one_or_four(agent, live, django_assert_num_queries):
    """The pickup path (issue 19): a 304 reads the token and the live clinic's config version
    in one statement (decision 0101); so does a 200 whose answer this process already gave
    (decision 0145). A 200 it has not given yet adds the view's three: the token, the config,
    then the call log policy."""
    from telephony.api.agent_not_modified import ANSWERS

    agent.get(URL, {"clinic": str(live.pk)})  # the token's last_used_at is written once a minute
    etag = agent.get(URL, {"clinic": str(live.pk)})["ETag"]
    with django_assert_num_queries(1):
        assert agent.get(URL, {"clinic": str(live.pk)}, HTTP_IF_NONE_MATCH=etag).status_code == 304
    with django_assert_num_queries(1):
        assert agent.get(URL, {"clinic": str(live.pk)}).status_code == 200
    ANSWERS.clear()
    with django_assert_num_queries(4):
        assert agent.get(URL, {"clinic": str(live.pk)}).status_code == 200


@pytest.mark.parametrize("state", ["draft", "suspended", "offboarded"])
def test_a_matching_etag_is_still_404_once_the_clinic_is_not_live(agent, live, state):
    etag = agent.get(URL, {"clinic": str(live.pk)})["ETag"]
    Clinic.objects.filter(pk=live.pk).update(state=state)
    assert agent.get(URL, {"clinic": str(live.pk)}, HTTP_IF_NONE_MATCH=etag).status_code == 404


def test_it_returns_the_receptionist_the_job_names(agent, live):
    from telephony.receptionists import receptionist_create

    spanish = receptionist_create(clinic=live, name="Spanish line", language="es-ES")
    r = agent.get(URL, {"clinic": str(live.pk), "receptionist": str(spanish.pk)})
    assert r.status_code == 200
    body = r.json()
    assert (body["receptionist"], body["receptionist_name"], body["line"]) == (
        spanish.pk,
        "Spanish line",
        "spanish-line",
    )
    assert body["language"] == "es-ES" and body["config_version"] == 1
    assert r["ETag"].startswith(f'"{live.pk}-{spanish.pk}-1-')
    # The first receptionist's ETag is another one: a cached config is never confused.
    first = agent.get(URL, {"clinic": str(live.pk)})
    assert first.json()["receptionist"] == Receptionist.objects.first_of(live).pk
    assert first["ETag"] != r["ETag"]


@pytest.mark.parametrize("which", ["", "999999", "x1", "deleted", "other clinic"])
def test_a_job_without_a_known_receptionist_gets_the_first(agent, live, which):
    """Rooms dispatched with today's metadata (no receptionist), or by a rule that still
    names a receptionist deleted since: the caller is answered by the clinic's first."""
    from telephony.receptionists import receptionist_create, receptionist_delete

    if which == "deleted":
        gone = receptionist_create(clinic=live, name="Old line")
        receptionist_delete(receptionist=gone)
        which = str(gone.pk)
    elif which == "other clinic":
        which = str(Receptionist.objects.first_of(make_clinic(name="Elsewhere")).pk)
    r = agent.get(URL, {"clinic": str(live.pk), "receptionist": which})
    assert r.status_code == 200
    assert r.json()["clinic"] == str(live.pk)
    assert r.json()["receptionist"] == Receptionist.objects.first_of(live).pk


def test_a_room_named_for_a_line_gets_that_lines_receptionist(agent, live):
    from telephony.receptionists import receptionist_create

    billing = receptionist_create(clinic=live, name="Billing")
    room = f"{live.room_prefix}_billing_+14155550123_Ab3dE5fG7hJk"
    assert agent.get(URL, {"room": room}).json()["receptionist"] == billing.pk
    today = f"{live.room_prefix}_+14155550123_Ab3dE5fG7hJk"  # today's rooms: the first
    first = Receptionist.objects.first_of(live).pk
    assert agent.get(URL, {"room": today}).json()["receptionist"] == first
