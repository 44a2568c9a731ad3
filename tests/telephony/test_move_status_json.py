"""The move in the dashboard's status JSON (`GET /clinics/<slug>/status.json`, key `move`):
what the move card shows at each step, how the last move ended, never a project's name, URL
or key. Three emulator processes as projects (tests/telephony/test_projects_engine.py)."""

# ruff: noqa: F811 (the fixtures imported below are arguments of the tests)
from __future__ import annotations

import json

import pytest

from telephony.models import ProjectMove
from telephony.move_status import FINISHED, clinic_confirms_carrier
from telephony.moves import advance, roll_back, start_move
from telephony.provisioning.reconcile import reconcile_clinic
from tests.telephony.test_projects_engine import (  # noqa: F401 (fixtures)
    emulated,
    emulators,
    live_clinic,
    projects,
)

pytestmark = pytest.mark.django_db
State = ProjectMove.State


def status_json(client, clinic) -> dict:
    client.force_login(clinic.memberships.get().user)
    response = client.get(f"/clinics/{clinic.slug}/status.json")
    assert response.status_code == 200
    return response.json()


def no_project_secrets(body: dict, emulators) -> None:
    text = json.dumps(body)
    for proc in emulators.values():
        assert proc.url not in text
    assert "secret-of-project" not in text and "project-b" not in text


def test_a_clinic_that_never_moved_has_no_move(projects, emulators, client):
    clinic = live_clinic("Still Dental", "+14155550901")
    assert status_json(client, clinic)["move"] is None


def test_the_move_is_in_the_json_at_each_step_until_it_is_done(
    projects, emulators, emulated, client, settings
):
    settings.LIVEKIT_SIP_URI = "sip:a.example"
    clinic = live_clinic("Moving Dental", "+14155550911")
    assert reconcile_clinic(clinic.pk).outcome == "converged"
    move = start_move(clinic, projects["b"])

    body = status_json(client, clinic)["move"]
    assert body["moving"] and body["state"] == State.PROVISIONING
    assert not body["waiting_for_you"] and not body["automatic"]
    assert body["heading"] == "Your phone line is moving"
    assert "Nothing to do yet" in body["sentence"]
    assert body["numbers"] == ["+14155550911"] and body["old_sip_uri"] == "sip:a.example"
    assert body["new_sip_uri"] == ""  # not before the test call passed (decision 0096)
    page = client.get(f"/clinics/{clinic.slug}/").content.decode()
    assert "sip:b.example" not in page and "sip:a.example" in page

    assert reconcile_clinic(clinic.pk).outcome == "converged"
    move = advance(move)
    assert move.state == State.AWAITING_CARRIER, move.detail
    body = status_json(client, clinic)["move"]
    assert body["moving"] and body["waiting_for_you"] and body["state"] == State.AWAITING_CARRIER
    assert body["heading"] == "Action needed: your phone line is moving"
    assert body["new_sip_uri"] == "sip:b.example" and "press the button" in body["sentence"]
    no_project_secrets(body, emulators)

    clinic_confirms_carrier(clinic=clinic, actor=None)
    body = status_json(client, clinic)["move"]
    assert body["state"] == State.DELETING and not body["waiting_for_you"]
    assert body["heading"] == "Your phone line is moving"

    assert advance(ProjectMove.objects.get(pk=move.pk)).state == State.DONE
    body = status_json(client, clinic)["move"]
    heading, sentence = FINISHED[State.DONE]
    assert body == {"moving": False, "state": State.DONE, "heading": heading, "sentence": sentence}


def test_a_called_off_move_says_the_line_stays(projects, emulators, emulated, client):
    clinic = live_clinic("Staying Dental", "+14155550921")
    assert reconcile_clinic(clinic.pk).outcome == "converged"
    move = start_move(clinic, projects["b"])
    move = roll_back(move, reason="the operator called it off")
    assert move.state == State.ROLLED_BACK, move.detail
    body = status_json(client, clinic)["move"]
    assert not body["moving"] and body["state"] == State.ROLLED_BACK
    assert body["heading"] == "Your phone line stays where it was"
    assert "called off" in body["sentence"]


def test_another_clinics_move_is_not_in_the_json(projects, emulators, emulated, client):
    moving = live_clinic("Moving Dental", "+14155550931")
    still = live_clinic("Still Dental", "+14155550932")
    assert reconcile_clinic(moving.pk).outcome == "converged"
    start_move(moving, projects["b"])
    assert status_json(client, still)["move"] is None
