"""A move waits for the clinic's admin when the carrier is configured by hand (decision
0131): the dashboard and `GET .../move/` give the new SIP URI, the button and `POST
.../move/carrier-confirmed/` confirm it, then a last test call in the target comes before
the source is deleted. Three emulator processes as projects (tests/telephony/
test_projects_engine.py's fixtures); reconcile and each step run in this process."""

# ruff: noqa: F811 (the fixtures imported below are arguments of the tests)
from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEntry
from telephony.models import ProjectMove, Provisioning
from telephony.moves import advance, start_move
from telephony.provisioning.reconcile import reconcile_clinic
from telephony.upstream import gateway_for
from tenants.models import Membership
from tests.factories import add_member
from tests.telephony.test_projects_engine import (  # noqa: F401 (fixtures)
    emulated,
    emulators,
    held,
    live_clinic,
    projects,
)

pytestmark = pytest.mark.django_db
State = ProjectMove.State
PASSWORD = "correct-horse-battery-9"


def waiting_move(projects, number: str):
    clinic = live_clinic("Default Dental", number)
    assert reconcile_clinic(clinic.pk).outcome == "converged"
    move = start_move(clinic, projects["b"])
    assert reconcile_clinic(clinic.pk).outcome == "converged"
    move = advance(move)
    assert move.state == State.AWAITING_CARRIER, move.detail
    return clinic, move


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_the_dashboard_gives_the_new_address_and_the_button_confirms(
    projects, emulators, emulated, client, settings
):
    settings.LIVEKIT_SIP_URI = "sip:a.example"
    clinic, move = waiting_move(projects, "+14155550701")
    owner = clinic.memberships.get().user
    viewer = add_member(clinic, Membership.Role.VIEWER)

    client.force_login(viewer)
    page = client.get(f"/clinics/{clinic.slug}/").content.decode()
    assert "Action needed: your phone line is moving" in page
    assert "sip:b.example" in page and "sip:a.example" in page
    assert "My carrier now sends calls to the new address" not in page  # viewers: no button
    assert "An owner or admin of the clinic confirms this" in page
    assert client.post(f"/clinics/{clinic.slug}/move/confirm/").status_code == 403
    assert ProjectMove.objects.get(pk=move.pk).state == State.AWAITING_CARRIER
    assert emulators["b"].url not in page and "secret-of-project-b" not in page

    client.force_login(owner)
    page = client.get(f"/clinics/{clinic.slug}/").content.decode()
    assert "My carrier now sends calls to the new address" in page
    assert "+14155550701" in page
    response = client.post(f"/clinics/{clinic.slug}/move/confirm/", follow=True)
    assert "making a last test call at the new address" in response.content.decode()
    move.refresh_from_db()
    assert move.state == State.DELETING
    entry = AuditEntry.objects.get(
        clinic_id=clinic.pk, event="clinic.project_move_carrier_confirmed"
    )
    assert entry.actor_id == owner.pk
    assert held(emulators["a"]) == ["+14155550701"]  # nothing deleted in the request

    move = advance(move)  # the worker's step: last test call in b, then a is cleared
    assert move.state == State.DONE, move.detail
    assert held(emulators["a"]) == [] and held(emulators["b"]) == ["+14155550701"]
    page = client.get(f"/clinics/{clinic.slug}/").content.decode()
    assert 'id="move-card"' not in page


def test_the_api_reads_the_move_and_confirms_it(projects, emulators, emulated):
    clinic, move = waiting_move(projects, "+14155550711")
    owner = clinic.memberships.get().user
    api = api_for(owner)
    body = api.get(f"/api/v1/clinics/{clinic.slug}/move/").json()
    assert body["moving"] and body["waiting_for_you"] and not body["automatic"]
    assert body["state"] == "awaiting_carrier" and body["new_sip_uri"] == "sip:b.example"
    assert body["numbers"] == ["+14155550711"]
    assert "project-b" not in str(body)

    viewer = add_member(clinic, Membership.Role.VIEWER)
    refused = api_for(viewer).post(f"/api/v1/clinics/{clinic.slug}/move/carrier-confirmed/")
    assert refused.status_code == 403

    done = api.post(f"/api/v1/clinics/{clinic.slug}/move/carrier-confirmed/")
    assert done.status_code == 200 and done.json()["state"] == "deleting"
    again = api.post(f"/api/v1/clinics/{clinic.slug}/move/carrier-confirmed/")
    assert again.status_code == 400
    assert again.json()["move"] == ["Your confirmation is recorded already."]
    assert advance(ProjectMove.objects.get(pk=move.pk)).state == State.DONE
    body = api.get(f"/api/v1/clinics/{clinic.slug}/move/").json()
    assert body["moving"] is False and body["state"] is None
    nothing = api.post(f"/api/v1/clinics/{clinic.slug}/move/carrier-confirmed/")
    assert nothing.status_code == 400 and "not moving" in nothing.json()["move"][0]


def test_a_confirmation_before_the_test_call_passed_is_refused(projects, emulators, emulated):
    clinic = live_clinic("Default Dental", "+14155550721")
    assert reconcile_clinic(clinic.pk).outcome == "converged"
    move = start_move(clinic, projects["b"])  # provisioning in b: nothing to repoint to yet
    api = api_for(clinic.memberships.get().user)
    body = api.get(f"/api/v1/clinics/{clinic.slug}/move/").json()
    assert (
        body["moving"] and not body["waiting_for_you"] and "Nothing to do yet" in body["sentence"]
    )
    early = api.post(f"/api/v1/clinics/{clinic.slug}/move/carrier-confirmed/")
    assert early.status_code == 400 and "not ready for your carrier yet" in early.json()["move"][0]
    assert ProjectMove.objects.get(pk=move.pk).state == State.PROVISIONING


def test_the_source_is_kept_while_the_last_test_call_fails(projects, emulators, emulated):
    clinic, move = waiting_move(projects, "+14155550731")
    api = api_for(clinic.memberships.get().user)
    assert api.post(f"/api/v1/clinics/{clinic.slug}/move/carrier-confirmed/").status_code == 200
    # While the clinic's admin changed their carrier, someone deleted the rule in b.
    gateway_for(projects["b"]).delete_dispatch_rule(
        Provisioning.objects.get(clinic=clinic).dispatch_rule_id
    )

    move = advance(ProjectMove.objects.get(pk=move.pk))

    assert move.state == State.DELETING and "last test call" in move.detail
    assert held(emulators["a"]) == ["+14155550731"]  # the source still answers
    assert reconcile_clinic(clinic.pk, verify=True).outcome == "converged"  # b repaired
    move = advance(move)
    assert move.state == State.DONE, move.detail
    assert held(emulators["a"]) == [] and held(emulators["b"]) == ["+14155550731"]
