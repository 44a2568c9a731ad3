"""The agent worker's project against the clinic's (decision 0155): a worker says which
LiveKit project it serves (`X-Switchboard-Project`); one of another project still gets the
config (a caller is on the line) with `X-Switchboard-Project-Mismatch` naming both sides and
a warning in the platform's log; during a move the source's and the target's workers both
serve the clinic. The pickup 304 stays one statement: the projects come in it."""

from __future__ import annotations

import logging
from unittest import mock

import pytest
from django.test import Client

from telephony.agent_tokens import agent_token_create
from telephony.api.agent import AgentConfigApi
from telephony.models import LiveKitProject, ProjectMove
from telephony.projects import default_project
from tenants.models import Clinic

pytestmark = pytest.mark.django_db
URL = "/api/v1/agent/config"
MISMATCH = "X-Switchboard-Project-Mismatch"


@pytest.fixture
def live(clinic):
    Clinic.objects.filter(pk=clinic.pk).update(state=Clinic.State.LIVE)
    clinic.refresh_from_db()
    return clinic


@pytest.fixture
def agent():
    return Client(HTTP_AUTHORIZATION=f"Bearer {agent_token_create(name='agent')[1]}")


def project(name: str) -> LiveKitProject:
    return LiveKitProject.objects.create(
        name=name,
        url=f"https://{name}.livekit.example",
        api_key=f"key-{name}",
        api_secret=f"secret-of-{name}-0123456789",
        sip_uri=f"sip:{name}.example",
    )


def fetch(agent, clinic, worker=None, etag=None):
    extra = {}
    if worker is not None:
        extra["HTTP_X_SWITCHBOARD_PROJECT"] = worker
    if etag is not None:
        extra["HTTP_IF_NONE_MATCH"] = etag
    return agent.get(URL, {"clinic": str(clinic.pk)}, **extra)


def view_untouched():
    return mock.patch.object(AgentConfigApi, "get", side_effect=AssertionError("view ran"))


def test_a_worker_of_the_clinics_project_is_answered_as_before(
    agent, live, django_assert_num_queries
):
    fetch(agent, live)  # the token's last_used_at, written once a minute
    first = fetch(agent, live, "default")
    assert first.status_code == 200 and MISMATCH not in first
    with view_untouched(), django_assert_num_queries(1):  # the kept answer (decision 0145)
        assert fetch(agent, live, "default").status_code == 200
    with view_untouched(), django_assert_num_queries(1):
        again = fetch(agent, live, "default", etag=first["ETag"])
    assert again.status_code == 304 and MISMATCH not in again


def test_a_worker_of_another_project_gets_the_config_and_the_mismatch(
    agent, live, caplog, django_assert_num_queries
):
    eu = project("eu-west")
    Clinic.objects.filter(pk=live.pk).update(livekit_project=eu)
    fetch(agent, live)
    with caplog.at_level(logging.WARNING, logger="switchboard.agent_project"):
        wrong = fetch(agent, live, "default")
    assert wrong.status_code == 200 and wrong.json()["clinic"] == str(live.pk)
    sentence = wrong[MISMATCH]
    assert "'default'" in sentence and "arrive through eu-west" in sentence
    assert "SWITCHBOARD_PROJECT" in sentence and eu.url not in sentence
    assert any(sentence in r.getMessage() for r in caplog.records)
    # Its 304 is the view's, saying it again; still no extra round trip in the middleware.
    # the middleware's statement; the view's token, config and transcript policy (its ETag)
    with django_assert_num_queries(4):
        again = fetch(agent, live, "default", etag=wrong["ETag"])
    assert again.status_code == 304 and again[MISMATCH] == sentence
    right = fetch(agent, live, "eu-west", etag=wrong["ETag"])
    assert right.status_code == 304 and MISMATCH not in right


def test_during_a_move_the_source_and_the_target_serve_the_clinic(agent, live):
    source, target, other = default_project(), project("eu-west"), project("us-east")
    Clinic.objects.filter(pk=live.pk).update(livekit_project=target)  # as start_move does
    move = ProjectMove.objects.create(clinic=live, source=source, target=target)
    etag = fetch(agent, live)["ETag"]
    for worker in ("default", "eu-west"):
        with view_untouched():
            assert fetch(agent, live, worker, etag=etag).status_code == 304
        assert MISMATCH not in fetch(agent, live, worker)
    stray = fetch(agent, live, "us-east")
    assert stray.status_code == 200
    assert "arrive through default and eu-west" in stray[MISMATCH]
    assert other.name not in stray[MISMATCH].split("arrive through")[1]

    ProjectMove.objects.filter(pk=move.pk).update(state=ProjectMove.State.DONE)
    left = fetch(agent, live, "default", etag=etag)  # the source after the move is done
    assert left.status_code == 304 and "arrive through eu-west:" in left[MISMATCH]


def test_no_header_is_not_checked_and_a_malformed_one_is_not_echoed(agent, live):
    assert MISMATCH not in fetch(agent, live)
    odd = fetch(agent, live, "EU West <script>")
    assert odd.status_code == 200
    assert "a malformed project name" in odd[MISMATCH] and "script" not in odd[MISMATCH]


def test_a_room_fetch_is_checked_too(agent, live):
    Clinic.objects.filter(pk=live.pk).update(livekit_project=project("eu-west"))
    room = f"{live.room_prefix}_main_+15551234567_abcd"
    answer = agent.get(URL, {"room": room}, HTTP_X_SWITCHBOARD_PROJECT="default")
    assert answer.status_code == 200 and "arrive through eu-west" in answer[MISMATCH]
    fine = agent.get(URL, {"room": room}, HTTP_X_SWITCHBOARD_PROJECT="eu-west")
    assert fine.status_code == 200 and MISMATCH not in fine


def test_the_statement_names_the_default_project_and_every_open_state():
    """The 304's statement spells them out (no SQL built from strings): they must agree with
    the model's."""
    from telephony.api.agent_not_modified import STATEMENT
    from telephony.models import DEFAULT_PROJECT

    assert f"'{DEFAULT_PROJECT}') AS project" in STATEMENT
    listed = ", ".join(f"'{state}'" for state in ProjectMove.OPEN)
    assert f"m.state IN ({listed})" in STATEMENT
