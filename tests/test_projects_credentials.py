"""Who sees what of two LiveKit projects while a clinic moves between them (issue 17): the
clinic's own people see the two SIP URIs and nothing else of either project, other clinics'
people see nothing of the move at all, support staff see project names only, operators see
URLs and keys but never a secret. The move is a row here (its steps are tested in
tests/telephony/test_projects_engine.py and test_move_confirm.py): this is about pages."""

from __future__ import annotations

import pytest

from telephony.models import LiveKitProject, ProjectMove
from tenants.models import Membership
from tests.api_helpers import API, api_as
from tests.console import staff_in
from tests.factories import UserFactory, make_clinic

pytestmark = pytest.mark.django_db

CREDENTIALS = {
    "src": ("APIsourcekey42", "source-secret-0123456789-abcdefgh", "https://src.livekit.invalid"),
    "dst": ("APItargetkey42", "target-secret-0123456789-abcdefgh", "https://dst.livekit.invalid"),
}
WEBHOOK_SECRET = "target-webhook-secret-0123456789-abc"


def project(name: str, region: str) -> LiveKitProject:
    key, secret, url = CREDENTIALS[name]
    return LiveKitProject.objects.create(
        name=f"{name}-project",
        region=region,
        url=url,
        api_key=key,
        api_secret=secret,
        webhook_key=f"{key}hook",
        webhook_secret=WEBHOOK_SECRET,
        sip_uri=f"sip:{name}.sip.example",
    )


@pytest.fixture
def moving():
    source, target = project("src", "eu"), project("dst", "us")
    owner = UserFactory()
    clinic = make_clinic(owner, "Moving Dental")
    clinic.livekit_project = source
    clinic.save()
    move = ProjectMove.objects.create(
        clinic=clinic, source=source, target=target, state=ProjectMove.State.AWAITING_CARRIER
    )
    return clinic, owner, move


def secrets_in(body: str) -> list[str]:
    found = [s for c in CREDENTIALS.values() for s in c if s in body]
    return found + ([WEBHOOK_SECRET] if WEBHOOK_SECRET in body else [])


def test_the_clinics_people_see_both_sip_uris_and_no_credentials(client, moving):
    clinic, owner, _move = moving
    viewer = UserFactory()
    Membership.objects.create(clinic=clinic, user=viewer, role=Membership.Role.VIEWER)
    for person in (owner, viewer):
        api = api_as(person)
        move_json = api.get(f"{API}/clinics/{clinic.slug}/move/")
        assert move_json.status_code == 200
        assert move_json.json()["moving"] is True
        assert move_json.json()["new_sip_uri"] == "sip:dst.sip.example"
        client.force_login(person)
        bodies = [
            move_json.content.decode(),
            api.get(f"{API}/clinics/{clinic.slug}/").content.decode(),
            api.get(f"{API}/clinics/").content.decode(),
            api.get(f"{API}/clinics/{clinic.slug}/provisioning/").content.decode(),
            client.get(f"/clinics/{clinic.slug}/", follow=True).content.decode(),
            client.get(f"/clinics/{clinic.slug}/setup/carrier/").content.decode(),
        ]
        assert "sip:dst.sip.example" in bodies[4] and "sip:src.sip.example" in bodies[4]
        for body in bodies:
            assert secrets_in(body) == []
            # Not even the projects' names: a clinic knows addresses, not our projects.
            assert "src-project" not in body and "dst-project" not in body


def test_another_clinics_people_see_nothing_of_the_move(client, moving):
    clinic, _owner, _move = moving
    stranger = UserFactory()
    make_clinic(stranger, "Other Dental")
    api = api_as(stranger)
    assert api.get(f"{API}/clinics/{clinic.slug}/move/").status_code == 404
    confirm = api.post(f"{API}/clinics/{clinic.slug}/move/carrier-confirmed/")
    assert confirm.status_code == 404
    assert ProjectMove.objects.get(clinic=clinic).state == ProjectMove.State.AWAITING_CARRIER
    client.force_login(stranger)
    assert client.post(f"/clinics/{clinic.slug}/move/confirm/").status_code == 404
    body = api.get(f"{API}/clinics/").content.decode()
    assert "sip:src" not in body and "sip:dst" not in body and secrets_in(body) == []


def test_support_sees_the_projects_names_during_a_move_and_nothing_else(client, moving):
    clinic, _owner, _move = moving
    client.force_login(staff_in("support"))
    pages = [
        client.get(f"/admin/tenants/clinic/{clinic.pk}/change/"),
        client.get("/admin/tenants/clinic/"),
        client.get("/admin/ops/"),
    ]
    for page in pages:
        assert page.status_code == 200
        body = page.content.decode()
        assert "src-project" in body
        assert secrets_in(body) == [], page.request["PATH_INFO"]
    moves = client.get("/admin/telephony/projectmove/")
    assert moves.status_code in (200, 403)
    if moves.status_code == 200:
        assert secrets_in(moves.content.decode()) == []
    for target in LiveKitProject.objects.exclude(name="default"):
        change = f"/admin/telephony/livekitproject/{target.pk}/change/"
        assert client.get(change).status_code == 403


def test_operators_see_urls_and_keys_but_never_a_secret(client, moving):
    client.force_login(staff_in("operator"))
    for target in LiveKitProject.objects.exclude(name="default"):
        page = client.get(f"/admin/telephony/livekitproject/{target.pk}/change/")
        assert page.status_code == 200
        body = page.content.decode()
        key, secret, url = CREDENTIALS[target.name.split("-")[0]]
        assert key in body and url in body
        assert secret not in body and WEBHOOK_SECRET not in body
