"""A clinic brings its own LiveKit project (decision 0132): a fourth emulator process is
the clinic's project beside tests/telephony/test_projects_engine.py's three. The API and
the web page check the credentials with one read call, keep the secrets write-only and
encrypted, move the clinic in and back out with the move machinery, and keep the project
private to the clinic."""

# ruff: noqa: F811 (the fixtures imported below are arguments of the tests)
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from rest_framework.test import APIClient

from emulators.livekit.testing import EmulatorProcess
from telephony.models import LiveKitProject, ProjectMove
from telephony.moves import advance, open_move, start_move
from telephony.projects import pin, place
from telephony.provisioning.reconcile import reconcile_clinic
from telephony.webhook_projects import serves
from tenants.models import Membership
from tests.factories import UserFactory, add_member, make_clinic
from tests.telephony.test_projects_engine import (  # noqa: F401 (fixtures)
    emulated,
    emulators,
    held,
    live_clinic,
    projects,
)
from tests.telephony.test_webhooks import room_of
from tests.telephony.webhook_helpers import body as body_of
from tests.telephony.webhook_helpers import sign

pytestmark = pytest.mark.django_db
State = ProjectMove.State
OWN_KEY, OWN_SECRET = "ownkey", "secret-of-the-clinics-own-project-0123"


@pytest.fixture(scope="module")
def own_emulator():
    proc = EmulatorProcess(api_key=OWN_KEY, api_secret=OWN_SECRET)
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture
def own(own_emulator, projects):
    own_emulator.control.clear_faults()
    own_emulator.control.reset()
    return own_emulator


class _NotLiveKit(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = b"<html><body>Welcome to nginx!</body></html>"
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def not_livekit():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotLiveKit)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def body(own: EmulatorProcess, **extra: str) -> dict[str, str]:
    return {
        "url": own.url.replace("http://", "ws://"),
        "api_key": OWN_KEY,
        "api_secret": OWN_SECRET,
        "sip_uri": "sip:own.sip.example",
        **extra,
    }


def allowed_live_clinic(number: str):
    clinic = live_clinic("Group Dental", number)
    assert reconcile_clinic(clinic.pk).outcome == "converged"
    clinic.may_bring_livekit_project = True
    clinic.save()
    return clinic, clinic.memberships.get().user


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def finish(clinic, api) -> ProjectMove:
    """Provision in the target, test it there, the admin confirms the carrier, then the
    source is removed (each step as the worker would take it)."""
    move = open_move(clinic)
    assert reconcile_clinic(clinic.pk).outcome == "converged"
    assert advance(move).state == State.AWAITING_CARRIER
    assert api.post(f"/api/v1/clinics/{clinic.slug}/move/carrier-confirmed/").status_code == 200
    move = advance(ProjectMove.objects.get(pk=move.pk))
    assert move.state == State.DONE, move.detail
    return move


def test_only_a_clinic_whose_plan_allows_it_and_only_its_admins(projects, own, emulated):
    clinic = live_clinic("Small Dental", "+14155550901")
    owner = clinic.memberships.get().user
    url = f"/api/v1/clinics/{clinic.slug}/livekit-project/"
    refused = api_for(owner).put(url, body(own), format="json")
    assert refused.status_code == 400
    assert "plan does not include" in refused.json()["non_field_errors"][0]
    assert api_for(owner).get(url).json()["allowed"] is False
    viewer = add_member(clinic, Membership.Role.VIEWER)
    assert api_for(viewer).get(url).status_code == 403
    assert not LiveKitProject.objects.filter(owner_clinic=clinic).exists()
    assert own.control.requests() == []  # not even the read call


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"api_secret": "wrong-secret-0123456789abcdef"}, "api_secret", "refused this API key"),
        ({"url": "http://127.0.0.1:1"}, "url", "Could not reach http://127.0.0.1:1"),
        ({"url": "NOT_LIVEKIT"}, "url", "answers, but not as a LiveKit server"),
        ({"url": "ftp://x"}, "url", "server URL as LiveKit shows it"),
        ({"sip_uri": "own.sip.example"}, "sip_uri", "SIP URI as LiveKit shows it"),
        ({"api_secret": ""}, "api_secret", "Give the API key's secret"),
    ],
)
def test_bad_credentials_are_refused_with_a_sentence_and_nothing_saved(
    projects, own, emulated, not_livekit, change, field, words
):
    clinic, owner = allowed_live_clinic("+14155550911")
    change = {k: v.replace("NOT_LIVEKIT", not_livekit) for k, v in change.items()}
    response = api_for(owner).put(
        f"/api/v1/clinics/{clinic.slug}/livekit-project/", body(own, **change), format="json"
    )
    assert response.status_code == 400
    assert words in response.json()[field][0], response.json()
    assert not LiveKitProject.objects.filter(owner_clinic=clinic).exists()
    assert open_move(clinic) is None


def webhook(client, text: str, *, key: str, secret: str = "not-the-secret-0123456789") -> int:
    auth = sign(text, key=key, secret=secret)
    response = client.post(
        "/webhooks/livekit",
        data=text,
        content_type="application/webhook+json",
        HTTP_AUTHORIZATION=auth,
    )
    return response.status_code


def test_the_clinic_moves_into_its_project_and_back(projects, emulators, own, emulated, client):
    clinic, owner = allowed_live_clinic("+14155550921")
    api = api_for(owner)
    url = f"/api/v1/clinics/{clinic.slug}/livekit-project/"

    response = api.put(
        url, body(own, webhook_key="ownhooks", webhook_secret="hook-secret-1"), format="json"
    )
    assert response.status_code == 200, response.json()
    out = response.json()
    assert out["state"] == "moving_in" and out["url"] == own.url and out["api_key"] == OWN_KEY
    assert "api_secret" not in out and "webhook_secret" not in out
    assert OWN_SECRET not in str(out) and "hook-secret-1" not in str(out)
    project = LiveKitProject.objects.get(owner_clinic=clinic)
    assert project.name == f"own-{clinic.slug}"[:40] and not project.open
    with connection.cursor() as cursor:  # encrypted at rest
        cursor.execute("SELECT api_secret FROM telephony_livekitproject WHERE id=%s", [project.pk])
        assert OWN_SECRET not in cursor.fetchone()[0]

    finish(clinic, api)
    clinic.refresh_from_db()
    assert clinic.livekit_project == project
    assert held(own) == ["+14155550921"] and held(emulators["a"]) == []
    assert api.get(url).json()["state"] == "in_use"
    # Its webhooks are verified with its webhook key and recorded for this clinic only.
    own_hook = {"key": "ownhooks", "secret": "hook-secret-1"}
    assert webhook(client, body_of("room_started", room=room_of(clinic)), **own_hook) == 200
    wrong = webhook(client, body_of("room_started", room=room_of(clinic)), key="ownhooks")
    assert wrong == 401  # the right key name with another secret

    # Private: never placed into, never another clinic's.
    other = live_clinic("Other Dental", "+14155550922")
    assert reconcile_clinic(other.pk).outcome == "converged"
    for _ in range(3):
        assert place().pk != project.pk
    assert not serves(project, other)
    assert (
        webhook(
            client,
            body_of("room_started", room=room_of(other), sid="RM_other01", event_id="EV_2"),
            **own_hook,
        )
        == 403
    )
    with pytest.raises(ValidationError) as moved:
        start_move(other, project)
    assert "another clinic's own project" in moved.value.message_dict["target"][0]
    draft = make_clinic(UserFactory(), "Draft Dental")
    with pytest.raises(ValidationError):
        pin(draft, project)

    # Back to the platform: the project it came from, then the own project is retired.
    response = api.delete(url)
    assert response.status_code == 200 and response.json()["state"] == "moving_out"
    move = finish(clinic, api)
    assert move.target.name == "default"
    clinic.refresh_from_db()
    project.refresh_from_db()
    assert clinic.livekit_project.name == "default"
    assert project.status == LiveKitProject.Status.RETIRED
    assert held(own) == [] and held(emulators["a"]) == ["+14155550921", "+14155550922"]
    assert api.get(url).json()["state"] == "none"


def test_a_draft_clinic_is_pinned_and_the_web_page_keeps_secrets_write_only(
    projects, own, emulated, client
):
    owner = UserFactory()
    clinic = make_clinic(owner, "Draft Group Dental")
    clinic.may_bring_livekit_project = True
    clinic.save()
    client.force_login(owner)
    page = f"/clinics/{clinic.slug}/livekit-project/"
    assert "Connect your project" in client.get(page).content.decode()
    bad = client.post(page, {**body(own), "action": "connect", "api_secret": "nope-nope-nope"})
    assert bad.status_code == 400 and "refused this API key" in bad.content.decode()
    ok = client.post(page, {**body(own), "action": "connect"}, follow=True)
    text = ok.content.decode()
    assert "Your project answered and is saved" in text
    assert OWN_SECRET not in text and own.url in text  # the URL is shown back, not the secret
    clinic.refresh_from_db()
    assert clinic.livekit_project.owner_clinic_id == clinic.pk  # pinned: nothing to move
    assert open_move(clinic) is None
    viewer = add_member(clinic, Membership.Role.VIEWER)
    client.force_login(viewer)
    assert client.get(page).status_code == 403


def test_staff_set_the_allowance_and_support_sees_the_projects_name_only(
    projects, own, emulated, client
):
    from tests.console import staff_in

    clinic, owner = allowed_live_clinic("+14155550931")
    response = api_for(owner).put(
        f"/api/v1/clinics/{clinic.slug}/livekit-project/", body(own), format="json"
    )
    assert response.status_code == 200, response.json()
    project = LiveKitProject.objects.get(owner_clinic=clinic)
    client.force_login(staff_in("support"))
    assert client.get(f"/admin/telephony/livekitproject/{project.pk}/change/").status_code == 403
    page = client.get(f"/admin/tenants/clinic/{clinic.pk}/change/").content.decode()
    assert project.name in page
    assert own.url not in page and OWN_KEY not in page and OWN_SECRET not in page
