"""Provisioning talks to each clinic's own LiveKit project: three emulator processes as the
default project and two registered ones (decision 0070). Reconcile runs in this process
through the real gateway; the emulators' state is the ground truth."""

from __future__ import annotations

import io
import uuid

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from audit.models import AuditEntry
from emulators.livekit.testing import EmulatorProcess
from telephony import services
from telephony.models import LineRule, LiveKitProject, ProjectMove, Provisioning, UpstreamStatus
from telephony.moves import advance, confirm_carrier, plan_move, roll_back, start_move
from telephony.projects import set_credentials
from telephony.provisioning.circuit import auth_blocked, resume_everywhere
from telephony.provisioning.drift import scan_all
from telephony.provisioning.plan import plan_clinic
from telephony.provisioning.reconcile import reconcile_batch, reconcile_clinic
from telephony.ratelimit import get_limiter, reset_limiter
from telephony.testcall import test_call_run as run_test_call
from telephony.webhook_projects import serves
from tests.factories import UserFactory, make_clinic

pytestmark = pytest.mark.django_db
State = ProjectMove.State

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


def test_a_batch_runs_each_projects_clinics_with_that_projects_gateway(projects, emulators):
    """A batch mixing projects is one batch run per project (decision 0136): each clinic's
    objects land in its own project, none are handed to one-clinic runs."""
    in_a = live_clinic("Default Dental", "+14155550311")
    in_b = live_clinic("Berlin Dental", "+4930555011", projects["b"])
    in_c = live_clinic("Chicago Dental", "+13125550311", projects["c"])
    also_b = live_clinic("Bonn Dental", "+4922855011", projects["b"])
    result = reconcile_batch([in_a.pk, in_b.pk, in_c.pk, also_b.pk])
    assert sorted(result.converged) == sorted(str(c.pk) for c in (in_a, in_b, in_c, also_b))
    assert result.handed_over == []
    assert held(emulators["a"]) == ["+14155550311"]
    assert held(emulators["b"]) == ["+4922855011", "+4930555011"]
    assert held(emulators["c"]) == ["+13125550311"]
    for name, rules in (("a", 1), ("b", 2), ("c", 1)):
        assert len(emulators[name].control.state()["dispatch_rules"]) == rules


def test_a_batch_opens_only_the_refusing_projects_circuit(projects, emulators):
    """Project b answers 401 inside a mixed batch: b's circuit opens, b's clinics fail on
    credentials; a's and c's converge in the same batch."""
    emulators["b"].control.add_faults([{"method": "*", "action": "status", "status": 401}])
    in_a = live_clinic("Default Dental", "+14155550331")
    in_b = live_clinic("Berlin Dental", "+4930555031", projects["b"])
    in_c = live_clinic("Chicago Dental", "+13125550331", projects["c"])
    result = reconcile_batch([in_a.pk, in_b.pk, in_c.pk])
    assert sorted(result.converged) == sorted([str(in_a.pk), str(in_c.pk)])
    assert result.failed == [str(in_b.pk)]
    assert auth_blocked("project-b") and not auth_blocked() and not auth_blocked("project-c")
    assert held(emulators["b"]) == []


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


def test_a_batch_with_a_rate_limited_project_leaves_the_others_alone(projects, emulators):
    """Project b answers 429 inside a mixed batch: b's clinics wait for its Retry-After,
    its limiter alone is blocked, and a's and c's clinics converge in the same batch."""
    emulators["b"].control.add_faults(
        [{"method": "*", "action": "status", "status": 429, "code": "resource_exhausted",
          "retry_after": 30}]
    )  # fmt: skip
    in_a = live_clinic("Default Dental", "+14155550341")
    in_b = live_clinic("Berlin Dental", "+4930555041", projects["b"])
    in_c = live_clinic("Chicago Dental", "+13125550341", projects["c"])
    result = reconcile_batch([in_a.pk, in_b.pk, in_c.pk])
    assert sorted(result.converged) == sorted([str(in_a.pk), str(in_c.pk)])
    assert list(result.retry) == [str(in_b.pk)] and result.retry[str(in_b.pk)] >= 30
    assert get_limiter("project-b").usage()["blocked_for"] > 20
    assert get_limiter().usage()["blocked_for"] == 0
    assert get_limiter("project-c").usage()["blocked_for"] == 0
    assert held(emulators["a"]) == ["+14155550341"] and held(emulators["c"]) == ["+13125550341"]


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


# --- moving a clinic between projects, make before break (decision 0096) -----------------


@pytest.fixture
def emulated(settings):
    settings.LIVEKIT_IS_EMULATOR = True
    settings.ORPHAN_GRACE_SECONDS = 0


def test_the_dry_run_names_every_step_and_does_nothing(projects, emulators, emulated):
    clinic = live_clinic("Default Dental", "+14155550501")
    assert reconcile_clinic(clinic.pk).outcome == "converged"
    prov = Provisioning.objects.get(clinic=clinic)
    before = len(emulators["b"].control.requests())

    plan = plan_move(clinic, projects["b"])

    assert (plan.source, plan.target) == ("default", "project-b")
    assert "+14155550501" in plan.steps[0] and "project-b" in plan.steps[0]
    assert "sip:b.example" in plan.steps[2]
    assert prov.trunk_id in plan.steps[3] and prov.dispatch_rule_id in plan.steps[3]
    assert len(emulators["b"].control.requests()) == before
    assert not ProjectMove.objects.exists()
    out = io.StringIO()
    call_command("move_clinic", clinic.slug, "--to", "project-b", "--dry-run", stdout=out)
    assert "Dry run" in out.getvalue() and "4. Delete" in out.getvalue()


def test_what_cannot_be_moved_is_refused_naming_the_field(projects, emulators, emulated):
    draft_owner_clinic = live_clinic("Default Dental", "+14155550511")
    with pytest.raises(ValidationError) as same:
        plan_move(draft_owner_clinic, projects["b"])  # not settled yet: never reconciled
    assert "clinic" in same.value.message_dict
    assert reconcile_clinic(draft_owner_clinic.pk).outcome == "converged"
    from telephony.projects import default_project

    with pytest.raises(ValidationError) as here:
        plan_move(draft_owner_clinic, default_project())
    assert "target" in here.value.message_dict
    start_move(draft_owner_clinic, projects["b"])
    with pytest.raises(ValidationError) as twice:
        start_move(draft_owner_clinic, projects["c"])
    assert "clinic" in twice.value.message_dict


def test_a_move_makes_before_it_breaks(projects, emulators, emulated):
    clinic = live_clinic("Default Dental", "+14155550521")
    assert reconcile_clinic(clinic.pk).outcome == "converged"
    source_trunk = Provisioning.objects.get(clinic=clinic).trunk_id

    move = start_move(clinic, projects["b"])
    assert move.state == State.PROVISIONING and move.source_trunk_id == source_trunk
    assert advance(move).state == State.PROVISIONING  # nothing in b yet: wait
    assert reconcile_clinic(clinic.pk).outcome == "converged"
    assert held(emulators["a"]) == held(emulators["b"]) == ["+14155550521"]  # both serve
    # While the move is open the source's objects are not a's orphans, and a's webhooks for
    # the clinic's rooms are still taken.
    reports = scan_all()
    assert reports["default"]["orphans"] == 0 and reports["project-b"]["drift_count"] == 0
    assert held(emulators["a"]) == ["+14155550521"]
    clinic.refresh_from_db()
    assert serves(None, clinic) and serves(projects["b"], clinic)
    assert not serves(projects["c"], clinic)

    move = advance(move)  # the test call in b passes
    assert move.state == State.AWAITING_CARRIER and "sip:b.example" in move.detail

    move = confirm_carrier(move)
    assert move.state == State.DONE
    assert held(emulators["a"]) == [] and held(emulators["b"]) == ["+14155550521"]
    with pytest.raises(ValidationError):  # too late to call it off
        roll_back(move, reason="changed my mind")
    reports = scan_all()
    assert all(r["orphans"] == 0 and r["drift_count"] == 0 for r in reports.values()), reports
    clinic.refresh_from_db()
    assert not serves(None, clinic)  # a's key no longer writes into its call log
    events = AuditEntry.objects.filter(clinic_id=clinic.pk).values_list("event", flat=True)
    assert {"clinic.project_move_started", "clinic.project_move_carrier_confirmed"} <= set(events)


def test_a_move_called_off_before_the_carrier_moved_leaves_the_source_as_it_was(
    projects, emulators, emulated
):
    clinic = live_clinic("Default Dental", "+14155550531")
    assert reconcile_clinic(clinic.pk).outcome == "converged"
    before = Provisioning.objects.values("trunk_id", "dispatch_rule_id").get(clinic=clinic)
    move = start_move(clinic, projects["b"])
    assert reconcile_clinic(clinic.pk).outcome == "converged"
    assert advance(move).state == State.AWAITING_CARRIER

    move = roll_back(move, reason="the clinic's carrier cannot change today")

    assert move.state == State.ROLLED_BACK
    clinic.refresh_from_db()
    assert clinic.livekit_project is None or clinic.livekit_project.name == "default"
    assert reconcile_clinic(clinic.pk, verify=True).outcome == "converged"
    after = Provisioning.objects.values("trunk_id", "dispatch_rule_id").get(clinic=clinic)
    assert after == before  # the very same objects serve on
    assert held(emulators["a"]) == ["+14155550531"] and held(emulators["b"]) == []
    reports = scan_all()
    assert all(r["orphans"] == 0 and r["drift_count"] == 0 for r in reports.values()), reports


def test_a_failing_test_call_in_the_target_calls_the_move_off(projects, emulators, emulated):
    clinic = live_clinic("Default Dental", "+14155550541")
    assert reconcile_clinic(clinic.pk).outcome == "converged"
    move = start_move(clinic, projects["b"])
    assert reconcile_clinic(clinic.pk).outcome == "converged"
    # Someone deletes the new dispatch rule in b: the test call there reaches no agent.
    from telephony.upstream import gateway_for

    gateway_for(projects["b"]).delete_dispatch_rule(
        Provisioning.objects.get(clinic=clinic).dispatch_rule_id
    )

    move = advance(move)

    assert move.state == State.ROLLED_BACK and "test call" in move.detail
    assert reconcile_clinic(clinic.pk, verify=True).outcome == "converged"
    assert held(emulators["a"]) == ["+14155550541"] and held(emulators["b"]) == []


# --- a move with a connected carrier: the engine repoints it after the test call ----------


@pytest.fixture(scope="module")
def twilio_process(tmp_path_factory):
    from emulators.twilio.testing import TwilioProcess

    with TwilioProcess(numbers=["+14155550601"], log_dir=tmp_path_factory.mktemp("twilio")) as emu:
        yield emu


@pytest.fixture
def twilio(twilio_process, settings):
    twilio_process.control.reset()
    settings.TWILIO_API_BASE_URL = twilio_process.url
    settings.LIVEKIT_SIP_URI = "sip:a.example"
    return twilio_process


def origination(twilio) -> list[str]:
    (trunk,) = twilio.control.state()["trunks"]
    return [u["sip_url"] for u in trunk["origination_urls"]]


def test_a_connected_carrier_keeps_the_source_until_the_test_call_then_follows(
    projects, emulators, emulated, twilio
):
    from telephony import carrier_services

    clinic = live_clinic("Default Dental", "+14155550601")
    owner = clinic.memberships.first().user
    creds = carrier_services.parse_credentials(
        provider="twilio", account_sid=twilio.account_sid, auth_token=twilio.auth_token
    )
    carrier_services.carrier_connect(clinic=clinic, creds=creds, actor=owner)
    assert reconcile_clinic(clinic.pk).outcome == "converged"
    assert origination(twilio) == ["sip:a.example;transport=tcp"]
    assert "Switchboard points the clinic's carrier" in plan_move(clinic, projects["b"]).steps[2]

    move = start_move(clinic, projects["b"])
    assert reconcile_clinic(clinic.pk).outcome == "converged"
    # Set up in b, but the carrier still sends calls to a until b has passed its test call.
    assert held(emulators["b"]) == ["+14155550601"]
    assert origination(twilio) == ["sip:a.example;transport=tcp"]

    move = advance(move)  # the test call in b passes: the engine is asked to repoint
    assert move.state == State.AWAITING_CARRIER and "Pointing" in move.detail
    with pytest.raises(ValidationError):  # the carrier may be moving: only forward now
        roll_back(move, reason="changed my mind")
    assert advance(move).state == State.AWAITING_CARRIER  # not repointed yet: wait

    assert reconcile_clinic(clinic.pk).outcome == "converged"
    assert origination(twilio) == ["sip:b.example;transport=tcp"]
    move = advance(move)  # confirmed by itself, then the source is deleted
    assert move.state == State.DONE
    assert held(emulators["a"]) == [] and held(emulators["b"]) == ["+14155550601"]
    assert len(twilio.control.state()["trunks"]) == 1  # updated in place, never a second


def carrier_move_awaiting(projects, twilio):
    """A connected-Twilio clinic moving from the default project to b, past its test call:
    the engine has been asked to repoint the carrier, nothing applied there yet."""
    from telephony import carrier_services

    clinic = live_clinic("Default Dental", "+14155550601")
    creds = carrier_services.parse_credentials(
        provider="twilio", account_sid=twilio.account_sid, auth_token=twilio.auth_token
    )
    carrier_services.carrier_connect(
        clinic=clinic, creds=creds, actor=clinic.memberships.first().user
    )
    assert reconcile_clinic(clinic.pk).outcome == "converged"
    move = start_move(clinic, projects["b"])
    assert reconcile_clinic(clinic.pk).outcome == "converged"
    move = advance(move)
    assert move.state == State.AWAITING_CARRIER
    return clinic, move


def test_the_carrier_step_reads_what_was_applied_not_a_desired_state_changed_since(
    projects, emulators, emulated, twilio
):
    clinic, move = carrier_move_awaiting(projects, twilio)
    assert reconcile_clinic(clinic.pk).outcome == "converged"  # the carrier now points to b
    prov = Provisioning.objects.get(clinic=clinic)
    assert prov.carrier_applied_origination == "sip:b.example;transport=tcp"
    # Meanwhile the desired state changes: b gains a fallback address and the clinic is
    # asked to provision again. Its carrier spec is no longer the applied one, but the
    # carrier does send calls to b.
    projects["b"].sip_fallback_uri = "sip:b-fallback.example"
    projects["b"].save()
    from telephony.provisioning_requests import request_provisioning

    request_provisioning(clinic, reason="a change during the move")

    move = advance(move)

    assert move.state == State.DONE, move.detail
    assert origination(twilio) == ["sip:b.example;transport=tcp"]  # nothing re-applied yet


def test_a_desired_state_naming_the_target_is_not_a_repointed_carrier(
    projects, emulators, emulated, twilio
):
    clinic, move = carrier_move_awaiting(projects, twilio)
    # The desired state says b; the carrier was never told (no run since).
    assert origination(twilio) == ["sip:a.example;transport=tcp"]
    prov = Provisioning.objects.get(clinic=clinic)
    assert prov.carrier_applied_origination == "sip:a.example;transport=tcp"

    assert advance(move).state == State.AWAITING_CARRIER

    assert reconcile_clinic(clinic.pk).outcome == "converged"
    assert advance(move).state == State.DONE


def test_a_carrier_applied_before_its_origination_was_recorded_is_judged_by_its_hash(
    projects, emulators, emulated, twilio
):
    clinic, move = carrier_move_awaiting(projects, twilio)
    assert reconcile_clinic(clinic.pk).outcome == "converged"
    Provisioning.objects.filter(clinic=clinic).update(carrier_applied_origination="")

    assert advance(move).state == State.DONE  # converged on b's spec: the earlier test holds


def two_line_clinic(number: str, other: str):
    from telephony.receptionists import phone_number_assign, receptionist_create

    clinic = live_clinic("Default Dental", number)
    services.phone_number_add(clinic=clinic, number=other)
    billing = receptionist_create(clinic=clinic, name="Billing")
    phone_number_assign(clinic=clinic, e164=other, receptionist=billing)
    assert reconcile_clinic(clinic.pk).outcome == "converged"
    return clinic, billing


def rules(emulator) -> list[tuple[str, ...]]:
    """Each dispatch rule's numbers (empty: trunk-wide), sorted."""
    out = []
    for rule in emulator.control.state()["dispatch_rules"]:
        out.append(tuple(sorted(rule.get("numbers") or [])))
    return sorted(out)


def test_a_clinic_with_two_lines_moves_with_every_line_rule(projects, emulators, emulated):
    clinic, _ = two_line_clinic("+14155550611", "+14155550612")
    source_rules = rules(emulators["a"])
    assert source_rules == [(), ("+14155550612",)]
    line = LineRule.objects.get(clinic=clinic)
    source_line_rule = line.rule_id

    plan = plan_move(clinic, projects["b"])
    assert "receptionist 'Billing' (+14155550612)" in plan.steps[0]
    assert source_line_rule in plan.steps[3]

    move = start_move(clinic, projects["b"])
    assert move.source_lines[0]["rule_id"] == source_line_rule
    assert not LineRule.objects.filter(clinic=clinic).exists()  # the target makes its own
    assert reconcile_clinic(clinic.pk).outcome == "converged"
    assert rules(emulators["b"]) == source_rules  # the same lines in b
    assert rules(emulators["a"]) == source_rules  # and a still serves both
    reports = scan_all()  # the source's line rule is claimed by the move, not an orphan
    assert reports["default"]["orphans"] == 0 and reports["project-b"]["drift_count"] == 0
    assert len(emulators["a"].control.state()["dispatch_rules"]) == 2
    target_line_rule = LineRule.objects.get(clinic=clinic).rule_id
    assert target_line_rule != source_line_rule

    move = advance(move)  # the test call checks each number against its line in b
    assert move.state == State.AWAITING_CARRIER, move.detail
    move = confirm_carrier(move)
    assert move.state == State.DONE
    assert rules(emulators["a"]) == [] and held(emulators["a"]) == []
    assert rules(emulators["b"]) == source_rules
    reports = scan_all()
    assert all(r["orphans"] == 0 and r["drift_count"] == 0 for r in reports.values()), reports


def test_a_two_line_move_called_off_restores_every_line(projects, emulators, emulated):
    clinic, _ = two_line_clinic("+14155550621", "+14155550622")
    before = list(LineRule.objects.filter(clinic=clinic).values("line", "rule_id", "numbers"))
    move = start_move(clinic, projects["b"])
    assert reconcile_clinic(clinic.pk).outcome == "converged"
    assert len(emulators["b"].control.state()["dispatch_rules"]) == 2

    move = roll_back(move, reason="not today")

    assert move.state == State.ROLLED_BACK
    after = list(LineRule.objects.filter(clinic=clinic).values("line", "rule_id", "numbers"))
    assert after == before
    assert reconcile_clinic(clinic.pk, verify=True).outcome == "converged"
    assert rules(emulators["b"]) == [] and held(emulators["b"]) == []
    assert rules(emulators["a"]) == [(), ("+14155550622",)]
    assert LineRule.objects.get(clinic=clinic).rule_id == before[0]["rule_id"]
    reports = scan_all()
    assert all(r["orphans"] == 0 and r["drift_count"] == 0 for r in reports.values()), reports
