"""LiveKit projects in the staff admin and who sees what: superusers register and re-key
projects (checked with one read call), operators view them without secrets, support sees
project names only, clinic admins never see credentials (decision 0070)."""

from __future__ import annotations

import pytest

from audit.models import AuditEntry
from emulators.livekit.testing import EmulatorProcess
from telephony.models import LiveKitProject, Provisioning
from tests.api_helpers import API, api_as
from tests.console import staff_in
from tests.factories import make_clinic
from tests.test_admin import _change_form_data

pytestmark = pytest.mark.django_db

KEY, SECRET = "APIadmintest", "admin-test-secret-0123456789-abcdefgh"
ADD = "/admin/telephony/livekitproject/add/"


@pytest.fixture(scope="module")
def emulator():
    with EmulatorProcess(api_key=KEY, api_secret=SECRET) as emu:
        yield emu


@pytest.fixture
def eu(emulator):
    return LiveKitProject.objects.create(
        name="eu-1",
        region="eu",
        url=emulator.url,
        api_key=KEY,
        api_secret=SECRET,
        sip_uri="sip:eu-1.sip.example",
    )


def change_url(p: LiveKitProject) -> str:
    return f"/admin/telephony/livekitproject/{p.pk}/change/"


def form(emulator, **overrides):
    data = {
        "name": "eu-2",
        "region": "eu",
        "url": emulator.url,
        "api_key": KEY,
        "api_secret": SECRET,
        "sip_uri": "sip:eu-2.sip.example",
        "webhook_key": "",
        "webhook_secret": "",
        "capacity_weight": "2",
        "accepting_new_clinics": "on",
        "status": "active",
    }
    data.update(overrides)
    return data


def test_a_superuser_adds_a_project_checked_with_one_read_call(client, emulator):
    client.force_login(staff_in(None))
    before = len(emulator.control.requests())
    r = client.post(ADD, form(emulator))
    assert r.status_code == 302, r.context["adminform"].form.errors if r.context else r
    p = LiveKitProject.objects.get(name="eu-2")
    assert (p.api_secret, p.capacity_weight) == (SECRET, 2)
    assert [q["method"] for q in emulator.control.requests()[before:]] == ["ListSIPInboundTrunk"]


def test_a_wrong_secret_is_refused_on_its_field_and_nothing_is_saved(client, emulator):
    client.force_login(staff_in(None))
    r = client.post(ADD, form(emulator, api_secret="a-wrong-secret-0123456789-abcdefgh"))
    assert r.status_code == 200
    errors = r.context["adminform"].form.errors
    assert "LiveKit refused this API key and secret" in errors["api_secret"][0]
    assert not LiveKitProject.objects.filter(name="eu-2").exists()


def test_a_fallback_sip_uri_is_kept_and_a_malformed_one_refused_on_its_field(client, emulator):
    client.force_login(staff_in(None))
    r = client.post(ADD, form(emulator, sip_fallback_uri="https://not-sip.example"))
    assert r.status_code == 200
    assert "Enter a SIP URI" in r.context["adminform"].form.errors["sip_fallback_uri"][0]
    assert not LiveKitProject.objects.filter(name="eu-2").exists()
    r = client.post(ADD, form(emulator, sip_fallback_uri="sip:eu-3.sip.example"))
    assert r.status_code == 302
    project = LiveKitProject.objects.get(name="eu-2")
    assert project.effective_sip_fallback_uri == "sip:eu-3.sip.example"


def test_the_default_name_is_reserved(client, emulator):
    client.force_login(staff_in(None))
    r = client.post(ADD, form(emulator, name="default"))
    assert r.status_code == 200
    assert "environment's project" in r.context["adminform"].form.errors["name"][0]


def test_secrets_are_write_only_and_a_blank_box_keeps_them(client, emulator, eu):
    client.force_login(staff_in(None))
    page = client.get(change_url(eu)).content.decode()
    assert SECRET not in page
    r = client.post(change_url(eu), form(emulator, name="eu-1", api_secret="", weight="3"))
    assert r.status_code == 302, r.context["adminform"].form.errors if r.context else r
    eu.refresh_from_db()
    assert eu.api_secret == SECRET
    assert not AuditEntry.objects.filter(event="livekit_project.secret_changed").exists()
    r = client.post(change_url(eu), form(emulator, name="eu-1", api_secret=SECRET))
    assert r.status_code == 302
    entry = AuditEntry.objects.get(event="livekit_project.secret_changed")
    assert SECRET not in str(entry.changes) and entry.actor_kind == "staff"


def test_the_default_project_shows_its_environment_and_takes_no_credentials(client, settings):
    client.force_login(staff_in(None))
    default = LiveKitProject.objects.get(name="default")
    page = client.get(change_url(default)).content.decode()
    assert "LIVEKIT_API_SECRET" in page and settings.LIVEKIT_API_SECRET not in page
    assert 'name="api_secret"' not in page and 'name="url"' not in page


def test_operators_view_projects_without_secrets_and_cannot_change_them(client, emulator, eu):
    client.force_login(staff_in("operator"))
    listing = client.get("/admin/telephony/livekitproject/")
    assert listing.status_code == 200 and "eu-1" in listing.content.decode()
    page = client.get(change_url(eu))
    assert page.status_code == 200
    assert SECRET not in page.content.decode() and 'name="api_key"' not in page.content.decode()
    r = client.post(change_url(eu), form(emulator, name="eu-1", api_key="stolen"))
    assert r.status_code == 403
    assert client.get(ADD).status_code == 403


def test_support_sees_project_names_only(client, owner, eu):
    clinic = make_clinic(owner, "Support Dental")
    clinic.livekit_project = eu
    clinic.save()
    client.force_login(staff_in("support"))
    assert client.get("/admin/telephony/livekitproject/").status_code == 403
    assert client.get(change_url(eu)).status_code == 403
    listing = client.get("/admin/tenants/clinic/").content.decode()
    assert "eu-1" in listing and KEY not in listing and "sip:eu-1" not in listing
    page = client.get(f"/admin/tenants/clinic/{clinic.pk}/change/").content.decode()
    assert "eu-1" in page and KEY not in page and SECRET not in page


def test_a_clinic_admin_never_sees_project_credentials(client, owner, eu):
    clinic = make_clinic(owner, "Own Dental")
    clinic.livekit_project = eu
    clinic.save()
    client.force_login(owner)
    carrier = client.get(f"/clinics/{clinic.slug}/setup/carrier/")
    assert carrier.status_code == 200
    assert "sip:eu-1.sip.example" in carrier.content.decode()  # the project's, for the carrier
    pages = [
        carrier.content.decode(),
        client.get(f"/clinics/{clinic.slug}/", follow=True).content.decode(),
        api_as(owner).get(f"{API}/clinics/{clinic.slug}/").content.decode(),
        api_as(owner).get(f"{API}/clinics/").content.decode(),
    ]
    for body in pages:
        assert SECRET not in body and KEY not in body and eu.url not in body
    assert "sip:eu-1.sip.example" in pages[1]
    assert client.get("/admin/telephony/livekitproject/").status_code == 302  # to sign-in


def test_operators_pin_a_draft_clinic_but_not_one_livekit_holds(client, owner, eu):
    clinic = make_clinic(owner, "Pin Dental")
    client.force_login(staff_in("operator"))
    url = f"/admin/tenants/clinic/{clinic.pk}/change/"
    r = client.post(url, _change_form_data(client, clinic, livekit_project=eu.pk))
    assert r.status_code == 302
    clinic.refresh_from_db()
    assert clinic.livekit_project == eu
    assert AuditEntry.objects.filter(event="clinic.project_pinned", clinic_id=clinic.pk).exists()

    Provisioning.objects.filter(clinic=clinic).update(trunk_id="ST_live")
    default = LiveKitProject.objects.get(name="default")
    r = client.post(url, _change_form_data(client, clinic, livekit_project=default.pk))
    assert r.status_code == 200
    assert "move the clinic instead" in str(r.context["adminform"].form.errors)
    clinic.refresh_from_db()
    assert clinic.livekit_project == eu


@pytest.fixture
def us(emulator):
    return LiveKitProject.objects.create(
        name="us-acme-group",
        region="us",
        url="http://us.livekit.invalid",
        api_key="APIusacme",
        api_secret="us-acme-secret-0123456789",
        sip_uri="sip:us-acme.sip.example",
    )


def test_a_clinic_admin_sees_nothing_of_another_clinics_project(client, owner, eu, us):
    from tests.factories import UserFactory

    mine = make_clinic(owner, "Own Dental")
    mine.livekit_project = eu
    mine.save()
    theirs = make_clinic(UserFactory(), "Acme Dental")
    theirs.livekit_project = us
    theirs.save()
    api = api_as(owner)

    assert api.get(f"{API}/clinics/{theirs.slug}/").status_code == 404
    client.force_login(owner)
    assert client.get(f"/clinics/{theirs.slug}/").status_code == 404
    bodies = [
        api.get(f"{API}/clinics/").content.decode(),
        api.get(f"{API}/clinics/{mine.slug}/").content.decode(),
        client.get(f"/clinics/{mine.slug}/", follow=True).content.decode(),
    ]
    for body in bodies:
        assert "us-acme" not in body and "sip:us-acme" not in body
        # Not even its own project's name (only its region and SIP URI, which holds "eu-1.").
        assert body.count("eu-1") == body.count("eu-1.sip.example")
    clinic_json = api.get(f"{API}/clinics/{mine.slug}/").json()
    assert (clinic_json["region"], clinic_json["sip_uri"]) == ("eu", "sip:eu-1.sip.example")


def test_a_clinic_admin_cannot_choose_or_change_the_project_through_the_api(owner, eu, us):
    clinic = make_clinic(owner, "Own Dental")
    clinic.livekit_project = eu
    clinic.save()
    api = api_as(owner)
    body = api.get(f"{API}/clinics/{clinic.slug}/").json()
    body.update(sip_uri="sip:us-acme.sip.example", region="us", livekit_project=us.pk)

    r = api.patch(f"{API}/clinics/{clinic.slug}/", body, format="json")

    assert r.status_code in (200, 400), r.content
    clinic.refresh_from_db()
    assert clinic.livekit_project == eu
    assert api.get(f"{API}/clinics/{clinic.slug}/").json()["sip_uri"] == "sip:eu-1.sip.example"


def test_support_sees_names_on_the_ops_dashboard_and_orphans_but_no_credentials(client, owner, eu):
    from telephony.models import OrphanObject

    OrphanObject.objects.create(object_id="ST_stray", kind="trunk", project=eu, clinic_ref="x")
    client.force_login(staff_in("support"))
    ops = client.get("/admin/ops/")
    assert ops.status_code == 200
    page = ops.content.decode()
    assert 'id="ops-project-eu-1"' in page
    assert KEY not in page and SECRET not in page and eu.url not in page
    orphans = client.get("/admin/telephony/orphanobject/")
    assert orphans.status_code == 200
    assert "eu-1" in orphans.content.decode()  # the project's name, nothing else of it
    assert KEY not in orphans.content.decode() and eu.url not in orphans.content.decode()


def test_the_audit_log_of_a_key_rotation_never_holds_the_secret(emulator, eu):
    from telephony.projects import set_credentials

    set_credentials(eu, api_key=KEY, api_secret=SECRET, actor=None)
    entries = AuditEntry.objects.filter(event="livekit_project.key_rotated")
    assert entries.count() == 1
    assert SECRET not in str(entries.values().first())


def test_a_project_carries_its_own_request_rate_edited_in_admin(client, emulator, eu, settings):
    settings.LIVEKIT_RATE_LIMIT_PER_MINUTE = 1000
    client.force_login(staff_in(None))
    listing = client.get("/admin/telephony/livekitproject/").content.decode()
    assert "1,000 (LIVEKIT_RATE_LIMIT_PER_MINUTE)" in listing  # no rate of its own yet

    r = client.post(change_url(eu), form(emulator, name="eu-1", rate_limit_per_minute="0"))
    assert r.status_code == 200  # bad input: named on its field, nothing saved
    assert (
        "greater than or equal to 1"
        in r.context["adminform"].form.errors["rate_limit_per_minute"][0]
    )
    r = client.post(change_url(eu), form(emulator, name="eu-1", rate_limit_per_minute="300"))
    assert r.status_code == 302, r.context["adminform"].form.errors if r.context else r
    eu.refresh_from_db()
    assert (eu.rate_limit_per_minute, eu.effective_rate_limit_per_minute) == (300, 300.0)
    listing = client.get("/admin/telephony/livekitproject/").content.decode()
    assert ">300<" in listing

    r = client.post(change_url(eu), form(emulator, name="eu-1", rate_limit_per_minute=""))
    assert r.status_code == 302
    eu.refresh_from_db()
    assert (eu.rate_limit_per_minute, eu.effective_rate_limit_per_minute) == (None, 1000.0)


def test_the_default_projects_rate_is_editable_too(client):
    client.force_login(staff_in(None))
    default = LiveKitProject.objects.get(name="default")
    page = client.get(change_url(default)).content.decode()
    assert 'name="rate_limit_per_minute"' in page
