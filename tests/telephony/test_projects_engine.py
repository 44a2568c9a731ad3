"""Provisioning talks to each clinic's own LiveKit project: three emulator processes as the
default project and two registered ones (decision 0070). Reconcile runs in this process
through the real gateway; the emulators' state is the ground truth."""

from __future__ import annotations

import uuid

import pytest

from emulators.livekit.testing import EmulatorProcess
from telephony import services
from telephony.models import LiveKitProject, Provisioning, UpstreamStatus
from telephony.projects import set_credentials
from telephony.provisioning.circuit import auth_blocked, resume_everywhere
from telephony.provisioning.plan import plan_clinic
from telephony.provisioning.reconcile import reconcile_batch, reconcile_clinic
from telephony.ratelimit import reset_limiter
from telephony.testcall import test_call_run as run_test_call
from tests.factories import UserFactory, make_clinic

pytestmark = pytest.mark.django_db

KEYS = {
    "a": ("keya", "secret-of-project-a-0123456789abcdef"),
    "b": ("keyb", "secret-of-project-b-0123456789abcdef"),
    "c": ("keyc", "secret-of-project-c-0123456789abcdef"),
}


@pytest.fixture(scope="module")
def emulators():
    procs = {name: EmulatorProcess(api_key=k, api_secret=s) for name, (k, s) in KEYS.items()}
    for proc in procs.values():
        proc.start()
    yield procs
    for proc in procs.values():
        proc.stop()


@pytest.fixture
def projects(emulators, settings):
    """a: the default project (the settings); b (eu) and c (us) registered."""
    for proc in emulators.values():
        proc.control.clear_faults()
        proc.control.reset()
    settings.LIVEKIT_URL = emulators["a"].url
    settings.LIVEKIT_API_KEY, settings.LIVEKIT_API_SECRET = KEYS["a"]
    settings.LIVEKIT_TIMEOUT_SECONDS = 2
    settings.LIVEKIT_RATE_LIMIT_MAX_WAIT_SECONDS = 1
    settings.SWITCHBOARD_DEPLOYMENT_ID = f"test-{uuid.uuid4().hex[:8]}"
    reset_limiter()
    made = {}
    for name, region in (("b", "eu"), ("c", "us")):
        key, secret = KEYS[name]
        made[name] = LiveKitProject.objects.create(
            name=f"project-{name}",
            region=region,
            url=emulators[name].url,
            api_key=key,
            api_secret=secret,
            sip_uri=f"sip:{name}.example",
        )
    yield made
    reset_limiter()


def live_clinic(name: str, number: str, project: LiveKitProject | None = None):
    owner = UserFactory()
    clinic = make_clinic(owner, name)
    if project is not None:
        clinic.livekit_project = project
        clinic.save()
    services.phone_number_add(clinic=clinic, number=number)
    services.clinic_go_live(clinic=clinic, actor=owner)
    return clinic


def held(emulator) -> list[str]:
    return sorted(t["numbers"][0] for t in emulator.control.state()["inbound_trunks"])


def test_each_project_holds_exactly_its_clinics_objects(projects, emulators):
    in_a = live_clinic("Default Dental", "+14155550301")
    in_b = live_clinic("Berlin Dental", "+4930555001", projects["b"])
    in_c = live_clinic("Chicago Dental", "+13125550301", projects["c"])
    for clinic in (in_a, in_b, in_c):
        assert reconcile_clinic(clinic.pk).outcome == "converged"
    assert held(emulators["a"]) == ["+14155550301"]
    assert held(emulators["b"]) == ["+4930555001"]
    assert held(emulators["c"]) == ["+13125550301"]
    for name in "abc":
        assert len(emulators[name].control.state()["dispatch_rules"]) == 1
    plan = plan_clinic(in_b.pk)  # the dry run reads the clinic's own project
    assert not plan.error and plan.steps == ()


def test_a_batch_hands_other_projects_clinics_to_their_own_runs(projects, emulators):
    in_a = live_clinic("Default Dental", "+14155550311")
    in_b = live_clinic("Berlin Dental", "+4930555011", projects["b"])
    result = reconcile_batch([in_a.pk, in_b.pk])
    assert result.handed_over == [str(in_b.pk)]
    assert held(emulators["b"]) == []  # the batch never wrote it into project a
    assert held(emulators["a"]) == ["+14155550311"]


def test_a_revoked_key_pauses_only_that_projects_clinics(projects, emulators, settings):
    in_a = live_clinic("Default Dental", "+14155550321")
    in_b = live_clinic("Berlin Dental", "+4930555021", projects["b"])
    in_c = live_clinic("Chicago Dental", "+13125550321", projects["c"])
    emulators["b"].control.add_faults([{"method": "*", "action": "status", "status": 401}])

    assert reconcile_clinic(in_b.pk).outcome == "failed"
    assert auth_blocked("project-b") and not auth_blocked() and not auth_blocked("project-c")
    assert not UpstreamStatus.objects.filter(pk=1).exclude(auth_failed_fingerprint="").exists()
    assert reconcile_clinic(in_a.pk).outcome == "converged"
    assert reconcile_clinic(in_c.pk).outcome == "converged"

    # Another clinic of b fails fast, without calling b.
    other_b = live_clinic("Bonn Dental", "+4922855021", projects["b"])
    before = len(emulators["b"].control.requests())
    assert reconcile_clinic(other_b.pk).outcome == "failed"
    assert len(emulators["b"].control.requests()) == before
    assert Provisioning.objects.get(clinic=other_b).last_error_code == "circuit_open"

    # A new key for b closes its circuit; the sweeper's resume puts b's clinics back.
    set_credentials(projects["b"], api_key="keyb2", api_secret=KEYS["b"][1], check=False)
    assert auth_blocked("project-b") is None  # another fingerprint: closed
    assert resume_everywhere() == 2
    assert Provisioning.objects.get(clinic=in_b.pk).state == "pending"


def test_rate_limited_project_leaves_the_others_alone(projects, emulators):
    in_b = live_clinic("Berlin Dental", "+4930555031", projects["b"])
    in_c = live_clinic("Chicago Dental", "+13125550331", projects["c"])
    emulators["b"].control.add_faults(
        [
            {
                "method": "*",
                "action": "status",
                "status": 429,
                "code": "resource_exhausted",
                "retry_after": 30,
            }
        ]
    )
    result = reconcile_clinic(in_b.pk)
    assert result.outcome == "retry" and result.retry_in >= 30
    assert reconcile_clinic(in_c.pk).outcome == "converged"  # c's limiter is its own
    assert held(emulators["c"]) == ["+13125550331"]


def test_the_test_call_reads_the_clinics_project(projects, emulators, settings):
    settings.LIVEKIT_IS_EMULATOR = True
    in_b = live_clinic("Berlin Dental", "+4930555041", projects["b"])
    assert reconcile_clinic(in_b.pk).outcome == "converged"
    before_a = len(emulators["a"].control.requests())
    report = run_test_call(clinic=in_b, caller="+14155550199")
    assert report.passed and report.dry_run  # registered projects: the dry run
    assert len(emulators["a"].control.requests()) == before_a
