"""Test call: what a call from a given number to each of the clinic's numbers would do.

Against Switchboard's emulator (settings.LIVEKIT_IS_EMULATOR) each call is really simulated:
the emulator evaluates it as LiveKit would and sends the call's webhooks, which land in the
call log marked as a test. Against a real LiveKit nothing can be simulated, so the clinic's
trunks and rules are fetched from LiveKit and evaluated with the same matching rules
(telephony.callplan): a dry run, labelled as one.

Either way the result is checked against what the clinic should get: its own trunk, the rule
of the line the number is assigned to (decision 0085), a room named for that line, and the
platform agent dispatched with this clinic's id, that receptionist and its current settings
version. Each result says which receptionist and which room the call reaches, and who
answers it now and after hours (telephony.testcall_hours: from the opening hours of the
clinic, or of the line's location, and the line's after-hours behaviour).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from telephony.calllog import redact_room_name
from telephony.callplan import RANDOM_PART, CallPlan, evaluate
from telephony.livekit_gateway import LiveKitError, LiveKitGateway, get_gateway, parse_metadata
from telephony.models import Call, LineRule, PhoneNumber, Provisioning, Receptionist, TestCall
from telephony.provisioning.desired import line_prefix, load_desired
from telephony.testcall_hours import who_answers
from telephony.upstream import gateway_for, project_for_clinic
from telephony.validators import normalize_e164
from tenants.models import Clinic, User
from tenants.timezones import clinic_region

Mode = TestCall.Mode
DRY_RUN_LABEL = (
    "Dry run: evaluated against the trunk and dispatch rule LiveKit holds now; no call was placed."
)
EMULATOR_LABEL = "Simulated by the LiveKit emulator; its webhooks appear in the call log as tests."


class TestCallUnavailable(Exception):
    """LiveKit (or the emulator) could not be asked; `sentence` says so for a person."""

    __test__ = False

    def __init__(self, sentence: str) -> None:
        super().__init__(sentence)
        self.sentence = sentence


@dataclass(frozen=True)
class NumberResult:
    number: str
    outcome: str
    passed: bool
    trunk_id: str
    rule_id: str
    room_name_pattern: str
    room_name: str
    agents: list[dict[str, Any]]
    attributes: dict[str, str]
    problems: list[str] = field(default_factory=list)
    # The receptionist the call reaches (from the dispatch metadata; None: nobody), and the
    # one the number is assigned to, with the room prefix of its line.
    receptionist: int | None = None
    receptionist_name: str = ""
    assigned_receptionist: int | None = None
    line_room_prefix: str = ""
    # Who answers a call to this number now and while closed (telephony.testcall_hours).
    open_now: bool | None = None
    answers_now: int | None = None
    answers_now_name: str = ""
    after_hours_action: str = ""
    after_hours_receptionist: int | None = None
    after_hours_name: str = ""
    after_hours_room: str = ""
    assigned_name: str = ""


@dataclass(frozen=True)
class TestCallReport:
    __test__ = False

    mode: str
    dry_run: bool
    label: str
    caller: str  # masked
    passed: bool
    results: list[NumberResult]


@dataclass(frozen=True)
class Line:
    """What a call to one number should reach: its receptionist's rule and room prefix."""

    receptionist: Receptionist
    rule_id: str
    room_prefix: str


@dataclass(frozen=True)
class Expected:
    clinic: Clinic
    trunk_id: str
    lines: dict[str, Line]  # by number
    names: dict[int, str]  # every receptionist's name, by id

    def line(self, number: str) -> Line:
        return self.lines[number]


def expected_lines(clinic: Clinic, prov: Provisioning) -> dict[str, Line]:
    """Per number: the receptionist it is assigned to, the rule that should answer it (the
    trunk-wide rule for the first receptionist's numbers, else its line's rule) and the room
    prefix of that line."""
    desired = load_desired(clinic.pk)
    first = desired.agent_config
    rules = dict(LineRule.objects.for_clinic(clinic).values_list("line", "rule_id"))
    out = {}
    for number, row in desired.answered_by().items():
        rule_id = prov.dispatch_rule_id if row == first else rules.get(str(row.pk), "")
        out[number] = Line(row, rule_id, line_prefix(clinic, row))
    return out


def test_call_run(*, clinic: Clinic, caller: object, actor: User | None = None) -> TestCallReport:
    """Run (or dry-run) a call from `caller` to every number of the clinic, and record it.

    Call this outside a transaction: it talks to LiveKit (or the emulator) first.
    """
    try:
        e164 = normalize_e164(caller, clinic_region(clinic))
    except ValidationError as exc:
        raise ValidationError({"from": exc.messages}) from None
    numbers = list(PhoneNumber.objects.for_clinic(clinic).values_list("e164", flat=True))
    if not numbers:
        raise ValidationError("Add a phone number before running a test call.")
    prov = Provisioning.objects.for_clinic(clinic).get()
    names = dict(Receptionist.objects.for_clinic(clinic).values_list("pk", "name"))
    expected = Expected(clinic, prov.trunk_id, expected_lines(clinic, prov), names)
    numbers = [n for n in numbers if n in expected.lines]  # the same read as the lines
    project = project_for_clinic(clinic.pk)  # None: the default project (the settings)
    gateway = get_gateway() if project is None else gateway_for(project)
    # LIVEKIT_IS_EMULATOR: every project of this deployment is an emulator (development,
    # tests), so the call is simulated by the clinic's own project.
    emulator = settings.LIVEKIT_IS_EMULATOR
    try:
        results = (
            _simulate(gateway, e164, numbers, expected)
            if emulator
            else _dry_run(gateway, e164, numbers, expected)
        )
    except LiveKitError as exc:
        raise TestCallUnavailable(exc.sentence) from None
    report = TestCallReport(
        mode=Mode.EMULATOR if emulator else Mode.DRY_RUN,
        dry_run=not emulator,
        label=EMULATOR_LABEL if emulator else DRY_RUN_LABEL,
        caller=f"***{e164[-4:]}",
        passed=all(r.passed for r in results),
        results=results,
    )
    _record(clinic, report, e164, actor)
    return report


def _simulate(
    gateway: LiveKitGateway, caller: str, numbers: Sequence[str], expected: Expected
) -> list[NumberResult]:
    results = []
    for number in numbers:
        reply = gateway.simulate_call(caller=caller, called=number)
        outcome = str(reply.get("result") or "error")
        room = str(reply.get("room_name") or "")
        agents = [
            {"agent_name": str(a.get("agent_name", "")), "metadata": str(a.get("metadata", ""))}
            for a in reply.get("agents") or []
            if isinstance(a, dict)
        ]
        participant = reply.get("participant") or {}
        attributes = participant.get("attributes") if isinstance(participant, dict) else None
        results.append(
            _result(
                number,
                outcome,
                str(reply.get("error") or ""),
                str(reply.get("trunk_id") or ""),
                str(reply.get("dispatch_rule_id") or ""),
                f"{room.rsplit('_', 1)[0]}_{RANDOM_PART}" if room else "",
                room,
                agents,
                dict(attributes or {}),
                expected,
            )
        )
    return results


def _dry_run(
    gateway: LiveKitGateway, caller: str, numbers: Sequence[str], expected: Expected
) -> list[NumberResult]:
    """Two list calls whatever the count of numbers (list filters include wildcards, §4.6)."""
    trunks = gateway.list_inbound_trunks(numbers=numbers)
    plans: list[CallPlan] = [evaluate(trunks, [], caller=caller, called=n) for n in numbers]
    trunk_ids = sorted({p.trunk_id for p in plans if p.trunk_id})
    rules = gateway.list_dispatch_rules(trunk_ids=trunk_ids) if trunk_ids else []
    results = []
    for number in numbers:
        plan = evaluate(trunks, rules, caller=caller, called=number)
        agents = [{"agent_name": a.agent_name, "metadata": a.metadata} for a in plan.agents]
        results.append(
            _result(
                number,
                plan.outcome,
                plan.message,
                plan.trunk_id,
                plan.rule_id,
                plan.room_name_pattern,
                "",
                agents,
                plan.attributes,
                expected,
            )
        )
    return results


def _result(
    number: str,
    outcome: str,
    message: str,
    trunk_id: str,
    rule_id: str,
    pattern: str,
    room: str,
    agents: list[dict[str, Any]],
    attributes: dict[str, str],
    expected: Expected,
) -> NumberResult:
    problems = _problems(number, outcome, message, trunk_id, rule_id, agents, expected)
    if not problems and not pattern.startswith(f"{expected.line(number).room_prefix}_"):
        problems.append(
            f"The call reaches room {pattern}, not a room of the line "
            f"{expected.line(number).receptionist.slug!r}. Provisioning is catching up; try "
            "again shortly."
        )
    line = expected.line(number)
    reached = _reached(number, agents, expected)
    hours = who_answers(line.receptionist, pattern or f"{line.room_prefix}_<caller>_{RANDOM_PART}")
    return NumberResult(
        number=number,
        outcome=outcome,
        passed=not problems,
        trunk_id=trunk_id,
        rule_id=rule_id,
        room_name_pattern=pattern,
        room_name=room,
        agents=agents,
        attributes={k: v for k, v in attributes.items() if k != "sip.phoneNumber"},
        problems=problems,
        receptionist=reached,
        receptionist_name=expected.names.get(reached, "") if reached is not None else "",
        assigned_receptionist=line.receptionist.pk,
        line_room_prefix=line.room_prefix,
        **hours,
    )


def _reached(number: str, agents: list[dict[str, Any]], expected: Expected) -> int | None:
    """The receptionist the dispatched agent's metadata names, if any."""
    agent_name = expected.line(number).receptionist.effective_agent_name
    for a in agents:
        if a["agent_name"] == agent_name:
            value = parse_metadata(a["metadata"]).get("receptionist")
            return value if isinstance(value, int) else None
    return None


def _problems(
    number: str,
    outcome: str,
    message: str,
    trunk_id: str,
    rule_id: str,
    agents: list[dict[str, Any]],
    expected: Expected,
) -> list[str]:
    if outcome != "dispatch":
        why = f": {message}" if message else ""
        live = expected.clinic.state == Clinic.State.LIVE
        hint = "" if live else " The clinic is not live yet; press Go live first."
        return [f"LiveKit would not send this call to a receptionist ({outcome}){why}.{hint}"]
    problems = []
    line = expected.line(number)
    if trunk_id != expected.trunk_id:
        problems.append(f"The call reaches trunk {trunk_id}, not this clinic's trunk.")
    if rule_id != line.rule_id:
        problems.append(
            f"The call is dispatched by rule {rule_id}, not the rule of the line this number "
            "is assigned to."
        )
    agent_name = line.receptionist.effective_agent_name
    ours = [a for a in agents if a["agent_name"] == agent_name]
    if not ours:
        problems.append(f"The agent {agent_name!r} is not dispatched.")
        return problems
    meta = parse_metadata(ours[0]["metadata"])
    if meta.get("clinic") != str(expected.clinic.pk):
        problems.append("The agent is dispatched with another clinic's id in its metadata.")
    elif meta.get("receptionist") != line.receptionist.pk:
        problems.append(
            "LiveKit dispatches another receptionist than the one this number is assigned to. "
            "Provisioning is catching up; try again shortly."
        )
    elif meta.get("config_version") != line.receptionist.version:
        problems.append(
            f"LiveKit dispatches settings version {meta.get('config_version')}; the current "
            f"version is {line.receptionist.version}. Provisioning is catching up; try again "
            "shortly."
        )
    return problems


def _record(clinic: Clinic, report: TestCallReport, caller: str, actor: User | None) -> None:
    """Keep the results, and mark this run's rooms as tests in the call log.

    The clinic row lock pairs with the one webhook recording takes, so a webhook that lands
    while this runs is marked either there (it sees these rows) or here (we see its call).
    """
    rooms = [redact_room_name(r.room_name) for r in report.results if r.room_name]
    with transaction.atomic():
        Clinic.objects.select_for_update(no_key=True).filter(pk=clinic.pk).first()
        TestCall.objects.bulk_create(
            TestCall(
                clinic=clinic,
                mode=report.mode,
                number=r.number,
                caller_last4=caller[-4:],
                outcome=r.outcome,
                passed=r.passed,
                room_name=redact_room_name(r.room_name),
                detail=" ".join(r.problems)[:2000],
                created_by=actor,
            )
            for r in report.results
        )
        if rooms:
            Call.objects.for_clinic(clinic).filter(room_name__in=rooms).update(is_test=True)
