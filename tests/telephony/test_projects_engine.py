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
    # Simulated by the clinic's own project's emulator, through its trunk and rule.
    assert report.passed and not report.dry_run, report
    prov = Provisioning.objects.get(clinic=in_b)
    assert [r.trunk_id for r in report.results] == [prov.trunk_id]
    assert len(emulators["a"].control.requests()) == before_a

    settings.LIVEKIT_IS_EMULATOR = False  # a real LiveKit: the dry run, still in project b
    report = run_test_call(clinic=in_b, caller="+14155550199")
    assert report.passed and report.dry_run
    assert len(emulators["a"].control.requests()) == before_a


def test_the_drift_scan_covers_every_project_and_keeps_their_orphans_apart(
    projects, emulators, settings
):
    from telephony.livekit_gateway import TrunkSpec
    from telephony.models import OrphanObject
    from telephony.provisioning.desired import marker
    from telephony.provisioning.drift import scan_all
    from telephony.upstream import gateway_for

    in_a = live_clinic("Default Dental", "+14155550351")
    in_b = live_clinic("Berlin Dental", "+4930555051", projects["b"])
    in_c = live_clinic("Chicago Dental", "+13125550351", projects["c"])
    for clinic in (in_a, in_b, in_c):
        assert reconcile_clinic(clinic.pk).outcome == "converged"
    # In c: a trunk marked as a's clinic's (c has no business holding it), and a foreign one.
    gw_c = gateway_for(projects["c"])
    stray = gw_c.create_inbound_trunk(
        TrunkSpec(name="stray", metadata=marker(in_a), numbers=("+14155550352",))
    )
    gw_c.create_inbound_trunk(TrunkSpec(name="theirs", metadata="{}", numbers=("+1312555",)))
    # In b: b's clinic's dispatch rule deleted behind our back.
    gateway_for(projects["b"]).delete_dispatch_rule(
        Provisioning.objects.get(clinic=in_b).dispatch_rule_id
    )
    settings.ORPHAN_GRACE_SECONDS = 3600

    reports = scan_all()

    assert set(reports) == {"default", "project-b", "project-c"}
    assert [reports[n]["drift_count"] for n in ("default", "project-b", "project-c")] == [0, 1, 0]
    assert "Berlin" not in str(reports["default"]) and reports["project-b"]["drifted"]
    assert [reports[n]["orphans"] for n in ("default", "project-b", "project-c")] == [0, 0, 1]
    assert reports["project-c"]["foreign_ignored"] == 1
    orphan = OrphanObject.objects.get(object_id=stray.trunk_id)
    assert orphan.project == projects["c"]
    projects["c"].refresh_from_db()
    assert projects["c"].last_drift_scan["orphans"] == 1  # on the project's row

    # b's clinic is repaired in b; the orphan goes after its grace, from c only.
    assert reconcile_clinic(in_b.pk, verify=True).outcome == "converged"
    settings.ORPHAN_GRACE_SECONDS = 0
    reports = scan_all()
    assert reports["project-b"]["drift_count"] == 0
    assert reports["project-c"]["orphans_deleted"] == 1
    assert stray.trunk_id not in [
        t["sip_trunk_id"] for t in emulators["c"].control.state()["inbound_trunks"]
    ]
    assert held(emulators["a"]) == ["+14155550351"]  # the claimed clinic's own trunk stays
    assert OrphanObject.objects.get(object_id=stray.trunk_id).deleted_at is not None


def test_a_project_that_cannot_be_scanned_does_not_stop_the_others(projects, emulators):
    from telephony.provisioning.drift import scan_all

    in_c = live_clinic("Chicago Dental", "+13125550361", projects["c"])
    assert reconcile_clinic(in_c.pk).outcome == "converged"
    emulators["b"].control.add_faults([{"method": "*", "action": "status", "status": 401}])
    gone = LiveKitProject.objects.create(
        name="project-gone", url="http://127.0.0.1:1", api_key="k", api_secret="s", sip_uri="x"
    )
    LiveKitProject.objects.filter(pk=gone.pk).update(status=LiveKitProject.Status.RETIRED)

    reports = scan_all()

    assert "project-gone" not in reports  # retired: not scanned
    assert reports["project-b"]["error"]
    assert reports["project-c"]["drift_count"] == 0 and "error" not in reports["project-c"]
    projects["b"].refresh_from_db()
    assert projects["b"].last_drift_scan["error"]


def test_readyz_names_the_project_that_is_down(projects, emulators, client):
    r = client.get("/readyz")
    assert r.status_code == 200, r.content
    checks = r.json()["checks"]
    assert {n: c["status"] for n, c in checks.items() if n.startswith("livekit")} == {
        "livekit": "ok",
        "livekit:project-b": "ok",
        "livekit:project-c": "ok",
    }
    assert r.json()["status"] == "ok"

    emulators["b"].control.add_faults([{"method": "*", "action": "status", "status": 401}])
    r = client.get("/readyz")
    body = r.json()
    # Some projects answer: the process stays in rotation, the body says which one is down.
    assert r.status_code == 200 and body["status"] == "degraded"
    assert body["livekit_down"] == ["livekit:project-b"]
    assert body["checks"]["livekit:project-b"]["error"]
    assert body["checks"]["livekit:project-c"]["status"] == "ok"
    for key, secret in KEYS.values():
        assert secret not in r.content.decode()

    for name in "ac":
        emulators[name].control.add_faults([{"method": "*", "action": "status", "status": 401}])
    r = client.get("/readyz")
    assert r.status_code == 503 and r.json()["status"] == "unavailable"  # no project answers


def test_the_ops_dashboard_has_a_row_per_project(projects, emulators, client):
    from tests.console import staff_in

    client.force_login(staff_in("support"))
    in_b = live_clinic("Berlin Dental", "+4930555071", projects["b"])
    live_clinic("Chicago Dental", "+13125550371", projects["c"])
    live_clinic("Cleveland Dental", "+12165550371", projects["c"])
    emulators["b"].control.add_faults([{"method": "*", "action": "status", "status": 401}])
    assert reconcile_clinic(in_b.pk).outcome == "failed"

    r = client.get("/admin/ops/")

    assert r.status_code == 200
    rows = {row.name: row for row in r.context["ops"]["projects"]}
    assert set(rows) == {"default", "project-b", "project-c"}
    b, c = rows["project-b"], rows["project-c"]
    assert (b.clinics, b.failed, b.errors_hour) == (1, 1, 1)
    assert b.circuit and b.trouble and not b.ready["ok"]
    assert (c.clinics, c.waiting, c.failed, c.circuit) == (2, 2, 0, "")
    assert c.ready["ok"] and not c.trouble
    assert rows["default"].clinics == 0
    page = r.content.decode()
    assert 'id="ops-project-project-b" class="ops-trouble"' in page
    for key, secret in KEYS.values():  # names only: no key, secret or URL
        assert secret not in page and f">{key}<" not in page
    assert emulators["b"].url not in page
