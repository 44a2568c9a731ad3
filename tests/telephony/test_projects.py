"""LiveKit projects as data: the default one, placement at signup, secrets at rest, the
`livekit_project` command, pinning (decision 0070)."""

from __future__ import annotations

import io
from collections import Counter

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection

from audit.models import AuditEntry
from emulators.livekit.testing import EmulatorProcess
from telephony.models import LiveKitProject, Provisioning
from telephony.projects import default_project, pin, place, project_of
from tenants.models import Clinic
from tests.api_helpers import API
from tests.factories import UserFactory, make_clinic

pytestmark = pytest.mark.django_db

KEY, SECRET = "APIprojtest", "project-test-secret-0123456789-abcdef"
SIGNUP = f"{API}/signup"


@pytest.fixture(scope="module")
def emulator():
    with EmulatorProcess(api_key=KEY, api_secret=SECRET) as emu:
        yield emu


def project(name: str, region: str = "", weight: int = 1, **extra) -> LiveKitProject:
    return LiveKitProject.objects.create(
        name=name,
        region=region,
        url=f"https://{name}.livekit.example",
        api_key=f"key-{name}",
        api_secret=f"secret-of-{name}-0123456789",
        sip_uri=f"sip:{name}.sip.livekit.example",
        capacity_weight=weight,
        **extra,
    )


def close_default() -> None:
    LiveKitProject.objects.filter(name="default").update(accepting_new_clinics=False)


def signup(api_client, n: int, **extra):
    return api_client.post(
        SIGNUP,
        {
            "email": f"owner{n}@clinic.example",
            "password": "a-Long-passw0rd!",
            "clinic_name": f"Clinic {n}",
            **extra,
        },
        format="json",
    )


# --- the default project: the environment's settings ---------------------------------------


def test_the_default_project_is_the_environment(settings):
    settings.LIVEKIT_URL, settings.LIVEKIT_API_KEY = "http://lk.internal:7880", "envkey"
    settings.LIVEKIT_API_SECRET, settings.LIVEKIT_SIP_URI = "env-secret-value", "sip:env.example"
    default = default_project()
    assert default.from_environment and default.name == "default"
    config = default.config()
    assert (config.url, config.api_key, config.api_secret, config.sip_uri) == (
        "http://lk.internal:7880",
        "envkey",
        "env-secret-value",
        "sip:env.example",
    )
    assert (config.webhook_key, config.webhook_secret) == ("envkey", "env-secret-value")
    # Nothing of the environment's is copied into the database.
    row = LiveKitProject.objects.filter(name="default").values("url", "api_key", "api_secret")
    assert list(row) == [{"url": "", "api_key": "", "api_secret": ""}]
    assert "env-secret-value" not in repr(config) and "env-secret-value" not in repr(default)


def test_a_one_project_deployment_places_every_clinic_in_default(settings):
    clinic = make_clinic(UserFactory(), "Solo Dental")
    assert clinic.livekit_project.name == "default"
    assert project_of(clinic).effective_sip_uri == settings.LIVEKIT_SIP_URI
    # A clinic written without one (bulk, older code) is the default project's too.
    bare = Clinic.objects.create(name="Bare", slug="bare", room_prefix="bare-0001")
    assert bare.livekit_project_id is None and project_of(bare).name == "default"


# --- placement: region, then weight --------------------------------------------------------


def test_placement_by_region_then_capacity_weight(api_client):
    close_default()
    project("eu-big", "eu", weight=2)
    project("eu-small", "eu", weight=1)
    project("us-one", "us")
    for n in range(6):
        assert signup(api_client, n, region="eu").status_code == 201
    for n in range(6, 8):
        assert signup(api_client, n, region="US ").status_code == 201
    placed = Counter(Clinic.objects.values_list("livekit_project__name", flat=True))
    assert placed == {"eu-big": 4, "eu-small": 2, "us-one": 2}


def test_signup_json_names_the_region_and_the_sip_uri(api_client):
    close_default()
    project("eu-1", "eu")
    project("us-1", "us")
    r = signup(api_client, 1, region="eu")
    assert r.status_code == 201, r.content
    clinic = r.json()["clinic"]
    assert clinic["region"] == "eu"
    assert clinic["sip_uri"] == "sip:eu-1.sip.livekit.example"
    body = r.content.decode()
    assert "secret-of-eu-1" not in body and "key-eu-1" not in body
    assert "eu-1.livekit.example" not in body.replace("sip:eu-1.sip.livekit.example", "")


def test_an_unknown_region_is_a_field_error_and_nothing_is_saved(api_client):
    close_default()
    project("eu-1", "eu")
    project("us-1", "us")
    r = signup(api_client, 1, region="mars")
    assert r.status_code == 400
    assert r.json()["region"] == ["There is no open region named 'mars'. Choose one of: eu, us."], (
        r.json()
    )
    assert not Clinic.objects.exists()


def test_without_a_region_the_platform_chooses_by_weight(api_client):
    close_default()
    project("eu-1", "eu", weight=1)
    project("us-1", "us", weight=3)
    for n in range(4):
        assert signup(api_client, n).status_code == 201
    placed = Counter(Clinic.objects.values_list("livekit_project__name", flat=True))
    assert placed == {"us-1": 3, "eu-1": 1}


def test_closed_and_draining_projects_take_no_new_clinics(api_client):
    close_default()
    project("eu-1", "eu", accepting_new_clinics=False)
    project("eu-2", "eu", status=LiveKitProject.Status.DRAINING)
    project("us-1", "us")
    r = signup(api_client, 1, region="eu")
    assert r.status_code == 400
    assert r.json()["region"] == ["There is no open region named 'eu'. Choose one of: us."]
    LiveKitProject.objects.update(accepting_new_clinics=False)
    r = signup(api_client, 2)
    assert r.status_code == 400
    assert "no LiveKit project takes new clinics" in r.json()["region"][0]
    assert not Clinic.objects.exists()


def test_offboarded_clinics_do_not_count_towards_a_project(api_client):
    close_default()
    a, b = project("a", "eu"), project("b", "eu")
    gone = make_clinic(UserFactory(), "Gone")
    Clinic.objects.filter(pk=gone.pk).update(livekit_project=a, state=Clinic.State.OFFBOARDED)
    Clinic.objects.filter(pk=make_clinic(UserFactory(), "Here").pk).update(livekit_project=b)
    assert place("eu") == a


def test_the_signup_form_offers_regions_only_when_there_is_a_choice(client):
    page = client.get("/signup/").content.decode()
    assert 'name="region"' not in page
    close_default()
    project("eu-1", "eu")
    project("us-1", "us")
    page = client.get("/signup/").content.decode()
    assert 'name="region"' in page and "No preference" in page
    data = {
        "email": "form@clinic.example",
        "password": "a-Long-passw0rd!",
        "clinic_name": "Form Dental",
        "region": "mars",
    }
    r = client.post("/signup/", data)
    assert r.status_code == 400
    assert "Choose one of: eu, us." in r.content.decode()
    r = client.post("/signup/", {**data, "region": "us"})
    assert r.status_code == 302
    assert Clinic.objects.get().livekit_project.name == "us-1"


# --- secrets: encrypted at rest, rotated with the key ring, never shown -------------------


def _raw_secret(pk: int) -> str:
    with connection.cursor() as cur:
        cur.execute("SELECT api_secret FROM telephony_livekitproject WHERE id = %s", [pk])
        return cur.fetchone()[0]


def test_the_api_secret_is_encrypted_at_rest_and_rotated(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    p = project("eu-1", "eu")
    stored = _raw_secret(p.pk)
    assert "secret-of-eu-1" not in stored
    assert Fernet(old.encode()).decrypt(stored.encode()).decode() == "secret-of-eu-1-0123456789"
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    call_command("rotate_encryption_keys", stdout=io.StringIO())
    settings.FIELD_ENCRYPTION_KEYS = [new]
    assert LiveKitProject.objects.get(pk=p.pk).api_secret == "secret-of-eu-1-0123456789"


# --- the command -----------------------------------------------------------------------------


def _secret_file(tmp_path, value: str = SECRET):
    path = tmp_path / "secret"
    path.write_text(value + "\n")
    return str(path)


def test_command_add_checks_the_credentials_then_list_shows_no_secret(tmp_path, emulator):
    out = io.StringIO()
    call_command(
        "livekit_project",
        "add",
        "eu-west",
        f"--url={emulator.url}",
        f"--api-key={KEY}",
        f"--api-secret-file={_secret_file(tmp_path)}",
        "--sip-uri=sip:eu-west.example",
        "--region=EU",
        "--weight=3",
        stdout=out,
    )
    assert "Added LiveKit project eu-west (region eu, weight 3" in out.getvalue()
    p = LiveKitProject.objects.get(name="eu-west")
    assert (p.api_secret, p.capacity_weight, p.region, p.open) == (SECRET, 3, "eu", True)
    assert [r["method"] for r in emulator.control.requests()][-1] == "ListSIPInboundTrunk"
    listing = io.StringIO()
    call_command("livekit_project", "list", stdout=listing)
    text = listing.getvalue()
    assert "eu-west" in text and "default (environment)" in text and KEY in text
    assert SECRET not in text
    entry = AuditEntry.objects.get(event="livekit_project.create")
    assert SECRET not in str(entry.changes) and entry.changes["name"][-1] == "eu-west"


def test_command_add_refuses_bad_credentials_naming_the_flag(tmp_path, emulator):
    with pytest.raises(CommandError) as err:
        call_command(
            "livekit_project",
            "add",
            "eu-west",
            f"--url={emulator.url}",
            f"--api-key={KEY}",
            f"--api-secret-file={_secret_file(tmp_path, 'a-wrong-secret-0123456789-abcdefgh')}",
            "--sip-uri=sip:eu-west.example",
            "--closed",
        )
    assert str(err.value).startswith("--api-secret-file: LiveKit refused this API key and secret")
    assert not LiveKitProject.objects.filter(name="eu-west").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["default", "--url=https://x.example"], "NAME: 'default' is the environment's project"),
        (["Bad Name", "--url=https://x.example"], "NAME: Use 1 to 40 lowercase letters"),
        (["ok", "--url=not a url"], "--url: Enter a valid URL."),
        (["ok", "--url=https://x.example", "--weight=0"], "--weight: use a whole number of 1"),
    ],
)
def test_command_add_names_the_flag_to_fix(tmp_path, args, message):
    secret = _secret_file(tmp_path)
    common = ["--api-key=k", f"--api-secret-file={secret}", "--sip-uri=sip:x.example"]
    with pytest.raises(CommandError) as err:
        call_command("livekit_project", "add", *args, *common, "--no-check")
    assert str(err.value).startswith(message), str(err.value)


def test_command_add_reads_the_secret_from_a_file_only(tmp_path):
    with pytest.raises(CommandError, match="--api-secret-file: cannot read"):
        call_command(
            "livekit_project",
            "add",
            "ok",
            "--url=https://x.example",
            "--api-key=k",
            f"--api-secret-file={tmp_path / 'missing'}",
            "--sip-uri=sip:x.example",
        )


def test_command_rotate_key(tmp_path, emulator):
    p = project("eu-1", "eu")
    p.url = emulator.url
    p.save()
    call_command(
        "livekit_project",
        "rotate-key",
        "eu-1",
        f"--api-key={KEY}",
        f"--api-secret-file={_secret_file(tmp_path)}",
        stdout=io.StringIO(),
    )
    p.refresh_from_db()
    assert (p.api_key, p.api_secret) == (KEY, SECRET)
    entry = AuditEntry.objects.get(event="livekit_project.key_rotated")
    assert SECRET not in str(entry.changes)


# --- pinning -------------------------------------------------------------------------------


def test_staff_pin_a_clinic_before_it_has_livekit_objects():
    target = project("eu-1", "eu")
    clinic = make_clinic(UserFactory(), "Pinned Dental")
    pin(clinic, target)
    clinic.refresh_from_db()
    assert clinic.livekit_project == target
    entry = AuditEntry.objects.get(event="clinic.project_pinned")
    assert entry.changes == {"livekit_project": ["default", "eu-1"]}
    Provisioning.objects.filter(clinic=clinic).update(trunk_id="ST_abc")
    with pytest.raises(Exception, match="move it instead of pinning it"):
        pin(clinic, default_project())
