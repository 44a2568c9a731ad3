"""Acceptance (issue 17): three LiveKit emulator processes as three projects in two regions,
a real celery worker, the platform over HTTP, PostgreSQL and Redis.

- a: the default project (the LIVEKIT_* settings), region "us", weight 1;
- project-b: registered, region "eu", weight 1;
- project-c: registered, region "us", weight 2.

Every emulator sends its webhooks, signed with its own key, to the platform. The moves
between projects run with a caller dialling every 100 ms through the project the carrier
points at.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from django.core import mail

from emulators.livekit.testing import EmulatorProcess
from telephony import services
from telephony.livekit_gateway import RuleSpec, TrunkSpec
from telephony.models import Call, LiveKitProject, ProjectMove, Provisioning
from telephony.moves import advance, confirm_carrier, plan_move, roll_back, start_move
from telephony.provisioning.circuit import auth_blocked, clear_circuit
from telephony.provisioning.drift import scan_all
from telephony.tasks import sweep_provisioning
from telephony.upstream import gateway_for
from tenants.models import Clinic
from tests.e2e.conftest import (
    Api,
    ThreeProjects,
    Worker,
    wait_until,
    worker_on_own_queue,
)
from tests.factories import UserFactory, make_clinic

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

NAMES = {"a": "default", "b": "project-b", "c": "project-c"}
CALLER = "+14155559876"


@pytest.fixture(scope="module")
def three_projects() -> ThreeProjects:
    return ThreeProjects(
        tag="e2e",
        names=NAMES,
        sip_domain="sip.example",
        webhooks=True,
        regions={"a": "us", "b": "eu", "c": "us"},
        weights={"b": 1, "c": 2},
        settings={
            "LIVEKIT_IS_EMULATOR": True,
            "LIVEKIT_TIMEOUT_SECONDS": 3,
            "ORPHAN_GRACE_SECONDS": 0,
        },
    )


@pytest.fixture
def worker(
    projects: dict[str, LiveKitProject], emulators: dict[str, EmulatorProcess]
) -> Iterator[Worker]:
    with worker_on_own_queue(emulators["a"].url, "e2e-projects") as w:
        yield w


def settled(*clinics: Clinic) -> bool:
    for clinic in clinics:
        prov = Provisioning.objects.get(clinic=clinic)
        assert prov.state != Provisioning.State.FAILED, (clinic.name, prov.last_error)
        if not (prov.state == Provisioning.State.ACTIVE and prov.converged):
            return False
    return True


def held_numbers(emulator: EmulatorProcess) -> list[str]:
    return sorted(n for t in emulator.control.state()["inbound_trunks"] for n in t["numbers"])


def ours(items: list[dict[str, Any]]) -> list[str]:
    return sorted(
        json.loads(i.get("metadata") or "{}").get("clinic", "")
        for i in items
        if json.loads(i.get("metadata") or "{}").get("clinic")
    )


def holds_exactly(emulator: EmulatorProcess, clinics: list[Clinic]) -> None:
    """One trunk and one rule of ours per clinic of the project, nothing of anyone else's."""
    state = emulator.control.state()
    wanted = sorted(str(c.pk) for c in clinics)
    assert ours(state["inbound_trunks"]) == wanted
    assert ours(state["dispatch_rules"]) == wanted


def signup(api: Api, live_server: Any, n: int, region: str) -> dict[str, Any]:
    """Sign up over HTTP with a region, verify the email, add a number, go live."""
    r = api(
        "POST",
        "signup",
        json={
            "email": f"owner{n}-{uuid.uuid4().hex[:6]}@clinic.example",
            "password": "a-Long-passw0rd!",
            "clinic_name": f"Clinic {n} {region.upper()}",
            "region": region,
        },
    )
    assert r.status_code == 201, r.text
    body = r.json()
    api.auth(body["token"])
    link = re.search(r"https?://\S+/verify-email/\S+", mail.outbox[-1].body)
    assert link, mail.outbox[-1].body
    path = link.group(0).split("/", 3)[3]
    assert requests.get(f"{live_server.url}/{path}", timeout=10).status_code in (200, 302)
    slug = body["clinic"]["slug"]
    number = f"+1415555{n:04d}" if region == "us" else f"+49305550{n:03d}"
    assert api("POST", f"clinics/{slug}/numbers/", json={"e164": number}).status_code == 201
    assert api("POST", f"clinics/{slug}/go-live/").status_code == 202
    return {"slug": slug, "number": number, "json": api("GET", f"clinics/{slug}/").json()}


def test_clinics_are_placed_by_region_and_weight_and_each_project_holds_its_own(
    live_server, emulators, projects, worker
):
    eu = signup(Api(live_server.url), live_server, 1, "eu")
    us = [signup(Api(live_server.url), live_server, n, "us") for n in (2, 3, 4)]

    clinics = {c.slug: c for c in Clinic.objects.select_related("livekit_project")}
    placed = {s["slug"]: clinics[s["slug"]].livekit_project.name for s in (eu, *us)}
    # eu: the only eu project; us: weight 1 (default) to 2 (project-c), ties by name.
    assert placed[eu["slug"]] == "project-b"
    assert [placed[s["slug"]] for s in us] == ["default", "project-c", "project-c"]
    assert (eu["json"]["region"], eu["json"]["sip_uri"]) == ("eu", "sip:b.sip.example")
    assert us[1]["json"]["sip_uri"] == "sip:c.sip.example"

    wait_until(lambda: settled(*clinics.values()), timeout=90)
    by_project: dict[str, list[Clinic]] = {"default": [], "project-b": [], "project-c": []}
    for slug, name in placed.items():
        by_project[name].append(clinics[slug])
    for key, name in NAMES.items():
        holds_exactly(emulators[key], by_project[name])

    # The test call goes through the clinic's own project (its emulator simulates it).
    b_clinic = by_project["project-b"][0]
    before = len(emulators["c"].control.webhooks())
    b_sent = len(emulators["b"].control.webhooks())
    report = services_test_call(b_clinic)
    assert report.passed and not report.dry_run, report
    wait_until(lambda: len(emulators["b"].control.webhooks()) >= b_sent + 4, timeout=20)
    assert {d["status"] for d in emulators["b"].control.webhooks()[b_sent:]} == {200}
    assert Call.objects.filter(clinic=b_clinic, is_test=True).exists()
    assert len(emulators["c"].control.webhooks()) == before

    # Whoever holds project b's key makes b produce a room of a default-project clinic:
    # b's signed webhooks about it are refused, and nothing is written into its call log.
    a_clinic = by_project["default"][0]
    a_rule = gateway_for(projects["a"]).list_dispatch_rules(
        rule_ids=[Provisioning.objects.get(clinic=a_clinic).dispatch_rule_id]
    )[0]
    gw_b = gateway_for(projects["b"])
    trunk = gw_b.create_inbound_trunk(TrunkSpec(name="x", metadata="{}", numbers=("+4930999",)))
    gw_b.create_dispatch_rule(
        RuleSpec(
            name="x",
            metadata="{}",
            trunk_ids=(trunk.trunk_id,),
            room_prefix=a_rule.room_prefix,
            hide_phone_number=False,
            agents=(),
        )
    )
    sent = len(emulators["b"].control.webhooks())
    result = emulators["b"].control.call(CALLER, "+4930999")
    assert result["room_name"].startswith(a_rule.room_prefix), result
    wait_until(lambda: len(emulators["b"].control.webhooks()) >= sent + 4, timeout=20)
    statuses = {d["status"] for d in emulators["b"].control.webhooks()[sent:]}
    assert statuses == {403}, emulators["b"].control.webhooks()[sent:]
    assert not Call.objects.filter(clinic=a_clinic).exists()

    # b's own clinic's real call is recorded (the same key, its own clinic's room).
    sent = len(emulators["b"].control.webhooks())
    result = emulators["b"].control.call(CALLER, eu["number"])
    assert result["result"] == "dispatch", result
    wait_until(lambda: len(emulators["b"].control.webhooks()) >= sent + 4, timeout=20)
    assert {d["status"] for d in emulators["b"].control.webhooks()[sent:]} == {200}
    assert Call.objects.filter(clinic=b_clinic, is_test=False).count() == 1


def services_test_call(clinic: Clinic) -> Any:
    from telephony.testcall import test_call_run

    return test_call_run(clinic=clinic, caller="+14155550199")


def go_live(name: str, number: str, project: LiveKitProject) -> Clinic:
    owner = UserFactory()
    clinic = make_clinic(owner, name)
    clinic.livekit_project = project
    clinic.save()
    services.phone_number_add(clinic=clinic, number=number)
    services.clinic_go_live(clinic=clinic, actor=owner)  # enqueues reconcile on commit
    return clinic


def no_dup_stuck_or_orphans(
    emulators: dict[str, EmulatorProcess], clinics: dict[str, list[Clinic]]
) -> None:
    for key, name in NAMES.items():
        holds_exactly(emulators[key], clinics[name])  # no duplicate
    assert not Provisioning.objects.exclude(state=Provisioning.State.ACTIVE).exists()  # stuck
    reports = scan_all()
    for name in NAMES.values():
        assert reports[name]["drift_count"] == 0 and reports[name]["orphans"] == 0, reports


def test_project_a_refusing_its_key_pauses_only_its_clinics(emulators, projects, worker):
    emulators["a"].control.add_faults([{"method": "*", "action": "status", "status": 401}])
    a1 = go_live("Albany Dental", "+15185550101", projects["a"])
    a2 = go_live("Austin Dental", "+15125550101", projects["a"])
    b1 = go_live("Berlin Dental", "+4930555101", projects["b"])
    c1 = go_live("Chicago Dental", "+13125550101", projects["c"])

    wait_until(lambda: settled(b1, c1), timeout=60)

    def paused() -> bool:
        states = Provisioning.objects.filter(clinic__in=[a1, a2]).values_list(
            "state", "last_error_code"
        )
        return all(
            s == Provisioning.State.FAILED and code in ("unauthenticated", "circuit_open")
            for s, code in states
        )

    wait_until(paused, timeout=60)
    assert auth_blocked() and not auth_blocked("project-b") and not auth_blocked("project-c")
    assert emulators["a"].control.state()["inbound_trunks"] == []

    # A new key for a (here: the fault lifted and the operator says so): they resume.
    emulators["a"].control.clear_faults()
    clear_circuit()
    sweep_provisioning()
    wait_until(lambda: settled(a1, a2), timeout=60)
    no_dup_stuck_or_orphans(emulators, {"default": [a1, a2], "project-b": [b1], "project-c": [c1]})


def test_project_b_rate_limiting_leaves_a_and_c_alone(emulators, projects, worker):
    emulators["b"].control.add_faults(
        [
            {
                "method": "*",
                "action": "status",
                "status": 429,
                "code": "resource_exhausted",
                "retry_after": 2,
                "count": 3,
            }
        ]
    )
    b1 = go_live("Berlin Dental", "+4930555201", projects["b"])
    b2 = go_live("Bonn Dental", "+4922855201", projects["b"])
    a1 = go_live("Albany Dental", "+15185550201", projects["a"])
    c1 = go_live("Chicago Dental", "+13125550201", projects["c"])

    wait_until(lambda: settled(a1, c1), timeout=60)
    for key in "ac":
        assert not [r for r in emulators[key].control.requests() if r.get("status") == 429]
    wait_until(lambda: settled(b1, b2), timeout=90)
    refused = [r for r in emulators["b"].control.requests() if r.get("status") == 429]
    assert refused  # b did rate-limit, and its clinics waited, then converged
    no_dup_stuck_or_orphans(emulators, {"default": [a1], "project-b": [b1, b2], "project-c": [c1]})


# --- moving a clinic between projects (make before break) -------------------------------


class Caller:
    """A caller dialling the clinic's number every 100 ms through whichever project the
    carrier points at, recording every result."""

    def __init__(self, emulator: EmulatorProcess, *numbers: str) -> None:
        self.carrier_to = emulator
        self.numbers = numbers  # dialled in turn
        self.results: list[tuple[int, dict[str, Any]]] = []
        self.dialled: list[str] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            emulator = self.carrier_to
            number = self.numbers[len(self.dialled) % len(self.numbers)]
            self.dialled.append(number)
            try:
                self.results.append((emulator.port, emulator.control.call(CALLER, number)))
            except Exception as exc:  # an error is an unrouted call: counted, not raised
                self.errors.append(repr(exc))
            self._stop.wait(0.1)  # the pace of the calls, not a wait for a condition

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def unrouted(self, room_prefix: str, lines: dict[str, str] | None = None) -> list[Any]:
        """Calls that reached no room of the clinic; with `lines` (number: line slug), also
        calls that reached the wrong line's room."""
        bad: list[Any] = list(self.errors)
        for number, (port, r) in zip(self.dialled, self.results, strict=False):
            prefix = f"{room_prefix}_"
            if lines:
                prefix += f"{lines[number]}_"
            if r.get("result") != "dispatch" or not str(r.get("room_name", "")).startswith(prefix):
                bad.append((port, number, r))
        return bad


def test_a_clinic_moves_between_projects_while_calls_keep_arriving(emulators, projects, worker):
    clinic = go_live("Albany Dental", "+15185550301", projects["a"])
    other = go_live("Chicago Dental", "+13125550301", projects["c"])
    wait_until(lambda: settled(clinic, other), timeout=60)
    plan = plan_move(clinic, projects["c"])
    assert len(plan.steps) == 4 and "sip:c.sip.example" in plan.steps[2]
    assert emulators["c"].control.state()["inbound_trunks"] != []  # the dry run wrote nothing
    holds_exactly(emulators["c"], [other])

    caller = Caller(emulators["a"], "+15185550301")
    try:
        move = start_move(clinic, projects["c"])
        wait_until(lambda: advance(move).state == ProjectMove.State.AWAITING_CARRIER, timeout=60)
        holds_exactly(emulators["a"], [clinic])  # both projects hold it now
        holds_exactly(emulators["c"], [clinic, other])
        calls_before = len(caller.results)
        wait_until(lambda: len(caller.results) > calls_before + 3, timeout=20)
        caller.carrier_to = emulators["c"]  # the carrier is repointed, then confirmed
        confirm_carrier(move)
        wait_until(lambda: advance(move).state == ProjectMove.State.DONE, timeout=30)
        calls_after = len(caller.results)
        wait_until(lambda: len(caller.results) > calls_after + 3, timeout=20)
    finally:
        caller.stop()

    assert caller.unrouted(clinic.room_prefix) == []
    through = Counter(port for port, _ in caller.results)
    assert set(through) == {emulators["a"].port, emulators["c"].port}
    # At least four calls through each project (the waits above), however fast the move.
    assert through[emulators["a"].port] >= 4 and through[emulators["c"].port] >= 4
    holds_exactly(emulators["a"], [])
    holds_exactly(emulators["c"], [clinic, other])
    clinic.refresh_from_db()
    assert clinic.livekit_project == projects["c"]
    no_dup_stuck_or_orphans(
        emulators, {"default": [], "project-b": [], "project-c": [clinic, other]}
    )


def test_a_target_unreachable_during_a_move_leaves_the_clinic_with_the_source(
    emulators, projects, worker
):
    clinic = go_live("Albany Dental", "+15185550401", projects["a"])
    wait_until(lambda: settled(clinic), timeout=60)
    emulators["c"].control.add_faults([{"method": "*", "action": "status", "status": 503}])
    caller = Caller(emulators["a"], "+15185550401")
    try:
        move = start_move(clinic, projects["c"])
        wait_until(
            lambda: Provisioning.objects.get(clinic=clinic).state == Provisioning.State.RETRYING,
            timeout=30,
        )
        assert advance(move).state == ProjectMove.State.PROVISIONING  # waits, the source serves
        roll_back(move, reason="project c is unreachable")  # now, or once the lease is free
        wait_until(lambda: advance(move).state == ProjectMove.State.ROLLED_BACK, timeout=30)
        wait_until(lambda: settled(clinic), timeout=60)
        calls = len(caller.results)
        wait_until(lambda: len(caller.results) > calls + 3, timeout=20)
    finally:
        caller.stop()
    assert caller.unrouted(clinic.room_prefix) == []
    clinic.refresh_from_db()
    assert clinic.livekit_project == projects["a"]
    emulators["c"].control.clear_faults()
    no_dup_stuck_or_orphans(emulators, {"default": [clinic], "project-b": [], "project-c": []})


def test_a_clinic_with_two_lines_moves_while_calls_to_both_keep_arriving(
    emulators, projects, worker
):
    from telephony.models import LineRule, Receptionist
    from telephony.receptionists import phone_number_assign, receptionist_create

    clinic = go_live("Albany Dental", "+15185550501", projects["a"])
    wait_until(lambda: settled(clinic), timeout=60)  # then the second line, as a change
    services.phone_number_add(clinic=clinic, number="+15185550502")
    billing = receptionist_create(clinic=clinic, name="Billing")
    phone_number_assign(clinic=clinic, e164="+15185550502", receptionist=billing)
    first = Receptionist.objects.filter(clinic=clinic).exclude(pk=billing.pk).get()
    lines = {"+15185550501": first.slug, "+15185550502": billing.slug}

    def two_rules(emulator: EmulatorProcess) -> bool:
        return len(emulator.control.state()["dispatch_rules"]) == 2

    wait_until(lambda: settled(clinic) and two_rules(emulators["a"]), timeout=60)
    source_line_rule = LineRule.objects.get(clinic=clinic).rule_id
    plan = plan_move(clinic, projects["b"])
    assert "receptionist 'Billing' (+15185550502)" in plan.steps[0]
    assert source_line_rule in plan.steps[3]

    caller = Caller(emulators["a"], "+15185550501", "+15185550502")
    try:
        move = start_move(clinic, projects["b"])
        wait_until(lambda: advance(move).state == ProjectMove.State.AWAITING_CARRIER, timeout=60)
        assert two_rules(emulators["a"]) and two_rules(emulators["b"])  # both serve both lines
        calls_before = len(caller.results)
        wait_until(lambda: len(caller.results) > calls_before + 4, timeout=20)
        caller.carrier_to = emulators["b"]  # the carrier is repointed, then confirmed
        confirm_carrier(move)
        wait_until(lambda: advance(move).state == ProjectMove.State.DONE, timeout=30)
        calls_after = len(caller.results)
        wait_until(lambda: len(caller.results) > calls_after + 4, timeout=20)
    finally:
        caller.stop()

    assert caller.unrouted(clinic.room_prefix, lines) == []
    assert {port for port, _ in caller.results} == {emulators["a"].port, emulators["b"].port}
    assert set(caller.dialled) == set(lines) and len(caller.results) >= 10
    assert emulators["a"].control.state()["dispatch_rules"] == []
    assert two_rules(emulators["b"])
    assert LineRule.objects.get(clinic=clinic).rule_id != source_line_rule
    state = emulators["b"].control.state()  # one trunk and a rule per line, no duplicate
    assert ours(state["inbound_trunks"]) == [str(clinic.pk)]
    assert ours(state["dispatch_rules"]) == [str(clinic.pk)] * 2
    holds_exactly(emulators["a"], [])
    holds_exactly(emulators["c"], [])
    assert not Provisioning.objects.exclude(state=Provisioning.State.ACTIVE).exists()
    reports = scan_all()
    for name in NAMES.values():
        assert reports[name]["drift_count"] == 0 and reports[name]["orphans"] == 0, reports


def test_a_clinic_brings_its_own_project_and_leaves_it_while_calls_keep_arriving(
    emulators, projects, worker, api, live_server
):
    """Decision 0132 over HTTP: the clinic's admin connects a fourth emulator as the
    clinic's own project, the clinic moves in (the admin confirms the carrier through the
    API), then stops using it and moves back; a caller dials every 100 ms throughout."""
    own_key, own_secret = "e2eownkey", "e2e-secret-of-the-clinics-own-project-01"
    own = EmulatorProcess(
        api_key=own_key, api_secret=own_secret, webhook_url=f"{live_server.url}/webhooks/livekit"
    )
    own.start()
    try:
        made = signup(api, live_server, 77, "us")
        clinic = Clinic.objects.get(slug=made["slug"])
        wait_until(lambda: settled(clinic), timeout=60)
        clinic.refresh_from_db()
        source = clinic.livekit_project or projects["a"]
        source_emulator = emulators[{v: k for k, v in NAMES.items()}[source.name]]
        Clinic.objects.filter(pk=clinic.pk).update(may_bring_livekit_project=True)
        slug, number = made["slug"], made["number"]

        def moved(caller: Caller, to: EmulatorProcess, state: str) -> None:
            wait_until(lambda: api("GET", f"clinics/{slug}/move/").json()["waiting_for_you"], 60)
            calls = len(caller.results)
            wait_until(lambda: len(caller.results) > calls + 3, timeout=20)
            caller.carrier_to = to  # the clinic's IT person repoints the carrier, then:
            assert api("POST", f"clinics/{slug}/move/carrier-confirmed/").status_code == 200
            wait_until(lambda: not api("GET", f"clinics/{slug}/move/").json()["moving"], 60)
            calls = len(caller.results)
            wait_until(lambda: len(caller.results) > calls + 3, timeout=20)
            assert api("GET", f"clinics/{slug}/livekit-project/").json()["state"] == state

        def step_moves() -> bool:  # the sweeper's part: advance the open move
            move = ProjectMove.objects.filter(clinic=clinic, state__in=ProjectMove.OPEN).first()
            early = (ProjectMove.State.PROVISIONING, ProjectMove.State.VERIFYING)
            return move is None or advance(move).state not in early

        caller = Caller(source_emulator, number)
        try:
            r = api(
                "PUT",
                f"clinics/{slug}/livekit-project/",
                json={
                    "url": own.url,
                    "api_key": own_key,
                    "api_secret": own_secret,
                    "sip_uri": "sip:own.sip.example",
                },
            )
            assert r.status_code == 200 and r.json()["state"] == "moving_in", r.text
            assert own_secret not in r.text
            wait_until(step_moves, timeout=60)
            moved(caller, own, "in_use")
            clinic.refresh_from_db()
            assert clinic.livekit_project.owner_clinic_id == clinic.pk
            assert held_numbers(own) == [number] and number not in held_numbers(source_emulator)

            r = api("DELETE", f"clinics/{slug}/livekit-project/")
            assert r.status_code == 200 and r.json()["state"] == "moving_out", r.text
            wait_until(step_moves, timeout=60)
            moved(caller, source_emulator, "none")
        finally:
            caller.stop()
        assert caller.unrouted(clinic.room_prefix) == []
        assert {port for port, _ in caller.results} == {source_emulator.port, own.port}
        clinic.refresh_from_db()
        assert clinic.livekit_project_id == source.pk
        assert held_numbers(own) == [] and number in held_numbers(source_emulator)
        assert LiveKitProject.objects.get(owner_clinic=clinic).status == "retired"
        reports = scan_all()
        assert all(r["orphans"] == 0 and r["drift_count"] == 0 for r in reports.values()), reports
    finally:
        own.stop()
