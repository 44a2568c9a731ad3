"""Several dispatch rules per clinic, one per line (issue 15, decisions 0065 and 0085), through
the real gateway against the emulator over HTTP.

The clinic's first receptionist has the trunk-wide rule; every other receptionist with
numbers has a rule restricted to them. After every mutating call the engine makes, a probing
gateway places a simulated call to every number of the clinic: no call may ever be left
unrouted (make before break), and each run ends with every number reaching its line.
"""

from __future__ import annotations

import json
import re

import pytest

from telephony import receptionists, services
from telephony.livekit_gateway import LiveKitGateway, RuleSpec
from telephony.models import LineRule, PhoneNumber, Provisioning, Receptionist
from telephony.provisioning import drift
from telephony.provisioning.plan import plan_clinic
from telephony.provisioning.reconcile import reconcile_batch, reconcile_clinic
from tests.telephony.emulator_helpers import KEY, SECRET

pytestmark = pytest.mark.django_db

N1, N2, N3 = "+14155550141", "+14155550142", "+14155550143"
CALLER = "+15551234567"


@pytest.fixture
def lk_settings():
    return {"LIVEKIT_RATE_LIMIT_PER_MINUTE": 1_000_000.0, "LIVEKIT_RATE_LIMIT_BURST": 1_000_000.0}


class Probing(LiveKitGateway):
    """The real gateway; after each write, a simulated call to every number of the clinic."""

    def __init__(self, lk, clinic) -> None:
        super().__init__(lk.base_url, KEY, SECRET, timeout=2)
        self.lk, self.clinic = lk, clinic
        self.seen: list[dict[str, str | None]] = []

    def probe(self) -> None:
        numbers = PhoneNumber.objects.filter(clinic=self.clinic).values_list("e164", flat=True)
        self.seen.append({n: line_of(self.lk, self.clinic, n) for n in numbers})

    def _then_probe(self, result):
        self.probe()
        return result

    def create_dispatch_rule(self, spec):
        return self._then_probe(super().create_dispatch_rule(spec))

    def replace_dispatch_rule(self, rule_id, spec):
        return self._then_probe(super().replace_dispatch_rule(rule_id, spec))

    def delete_dispatch_rule(self, rule_id):
        return self._then_probe(super().delete_dispatch_rule(rule_id))

    def replace_inbound_trunk(self, trunk_id, spec):
        return self._then_probe(super().replace_inbound_trunk(trunk_id, spec))

    def unrouted(self) -> list[dict[str, str | None]]:
        return [step for step in self.seen if None in step.values()]


def writes(lk, since: int) -> list[str]:
    """The mutating calls LiveKit received after the first `since` requests."""
    return [r["method"] for r in lk.requests()[since:] if not r["method"].startswith("List")]


def line_of(lk, clinic, number: str) -> str | None:
    """The line a simulated call to `number` reaches (None: no room, nobody answers)."""
    call = lk.call(CALLER, number)
    if call["result"] != "dispatch":
        return None
    if not call["room_name"].startswith(f"{clinic.room_prefix}_"):
        return "elsewhere"  # a rule that is not ours
    match = re.fullmatch(rf"{clinic.room_prefix}_([a-z0-9-]+)_\{CALLER}_\w+", call["room_name"])
    assert match, call["room_name"]
    meta = json.loads(call["agents"][0]["metadata"])
    row = Receptionist.objects.get(pk=meta["receptionist"])
    assert (row.slug, meta["line"], meta["config_version"]) == (
        match.group(1),
        match.group(1),
        row.version,
    )
    assert meta["clinic"] == str(clinic.pk)
    return match.group(1)


def lines(lk, clinic) -> dict[str, str | None]:
    return {n: line_of(lk, clinic, n) for n in (N1, N2, N3)}


def converge(gw, clinic) -> None:
    assert reconcile_clinic(clinic.pk, gateway=gw).outcome == "converged"
    assert gw.unrouted() == [], gw.seen
    assert plan_clinic(clinic.pk, gateway=gw).in_sync  # a verifying run would do nothing


@pytest.fixture
def clinic3(clinic, owner, lk):
    for n in (N1, N2, N3):
        services.phone_number_add(clinic=clinic, number=n)
    return clinic


@pytest.fixture
def spanish(clinic3):
    return receptionists.receptionist_create(clinic=clinic3, name="Spanish line", language="es-ES")


@pytest.fixture
def live(clinic3, spanish, owner, lk):
    receptionists.phone_number_assign(clinic=clinic3, e164=N2, receptionist=spanish)
    services.clinic_go_live(clinic=clinic3, actor=owner)
    gw = Probing(lk, clinic3)
    converge(gw, clinic3)
    return clinic3


def assign(clinic, number, receptionist) -> None:
    receptionists.phone_number_assign(clinic=clinic, e164=number, receptionist=receptionist)


def test_going_live_creates_the_trunk_wide_rule_and_one_rule_per_numbered_line(live, lk, spanish):
    creates = [r["method"] for r in lk.requests() if r["method"].startswith("Create")]
    assert creates == ["CreateSIPInboundTrunk", "CreateSIPDispatchRule", "CreateSIPDispatchRule"]
    assert lines(lk, live) == {N1: "main", N2: "spanish-line", N3: "main"}
    prov = Provisioning.objects.get(clinic=live)
    (row,) = LineRule.objects.filter(clinic=live)
    assert (row.line, row.numbers, row.intent) == (str(spanish.pk), [N2], None)
    rules = {r["sip_dispatch_rule_id"]: r for r in lk.state()["dispatch_rules"]}
    assert rules[prov.dispatch_rule_id]["numbers"] == []  # the trunk-wide rule
    assert rules[row.rule_id]["numbers"] == [N2]
    assert rules[row.rule_id]["trunk_ids"] == [prov.trunk_id]


def test_a_number_moved_from_the_first_line_is_one_update_of_the_line_that_takes_it(
    live, lk, spanish
):
    gw = Probing(lk, live)
    since = len(lk.requests())
    assign(live, N1, spanish)
    converge(gw, live)
    assert writes(lk, since) == ["UpdateSIPDispatchRule"]
    assert lines(lk, live) == {N1: "spanish-line", N2: "spanish-line", N3: "main"}


def test_a_number_moved_back_to_the_first_line_shrinks_the_line_and_deletes_it_when_empty(
    live, lk, spanish
):
    gw = Probing(lk, live)
    first = Receptionist.objects.first_of(live)
    assign(live, N1, spanish)
    converge(gw, live)
    assign(live, N1, first)
    converge(gw, live)
    assert lines(lk, live) == {N1: "main", N2: "spanish-line", N3: "main"}
    assign(live, N2, first)
    converge(gw, live)
    assert lines(lk, live) == {N1: "main", N2: "main", N3: "main"}
    assert not LineRule.objects.filter(clinic=live).exists()
    assert len(lk.state()["dispatch_rules"]) == 1


def test_between_two_numbered_lines_the_number_leaves_before_it_joins(live, lk, spanish):
    """Both rules cannot name the number at once (LiveKit's conflict rule): it leaves the
    old line first and the trunk-wide line answers it until the new line takes it."""
    billing = receptionists.receptionist_create(clinic=live, name="Billing")
    assign(live, N3, billing)
    converge(Probing(lk, live), live)
    gw = Probing(lk, live)
    assign(live, N2, billing)
    converge(gw, live)
    assert [step[N2] for step in gw.seen] == ["main", "billing"]  # deleted, then grown
    assert lines(lk, live) == {N1: "main", N2: "billing", N3: "billing"}


def test_two_lines_swapping_numbers_converge_with_every_number_answered(live, lk, spanish):
    billing = receptionists.receptionist_create(clinic=live, name="Billing")
    assign(live, N1, spanish)
    assign(live, N3, billing)
    converge(Probing(lk, live), live)
    gw = Probing(lk, live)
    assign(live, N1, billing)
    assign(live, N3, spanish)
    converge(gw, live)
    assert lines(lk, live) == {N1: "billing", N2: "spanish-line", N3: "spanish-line"}


def test_deleting_a_receptionist_deletes_its_rule_and_its_numbers_reach_their_new_line(
    live, lk, spanish
):
    gw = Probing(lk, live)
    receptionists.receptionist_delete(receptionist=spanish)
    converge(gw, live)
    assert lines(lk, live) == {N1: "main", N2: "main", N3: "main"}
    assert not LineRule.objects.filter(clinic=live).exists()
    assert len(lk.state()["dispatch_rules"]) == 1


def test_deleting_the_first_receptionist_hands_the_trunk_wide_rule_to_the_next(live, lk, spanish):
    """The trunk-wide rule is updated in place to dispatch the new first receptionist before
    that receptionist's numbered rule is deleted: no number is unrouted in between."""
    gw = Probing(lk, live)
    receptionists.receptionist_delete(receptionist=Receptionist.objects.first_of(live))
    converge(gw, live)
    assert lines(lk, live) == {N1: "spanish-line", N2: "spanish-line", N3: "spanish-line"}
    assert len(lk.state()["dispatch_rules"]) == 1
    assert not LineRule.objects.filter(clinic=live).exists()


def test_a_lost_reply_to_a_line_create_is_adopted_not_duplicated(live, lk):
    billing = receptionists.receptionist_create(clinic=live, name="Billing")
    lk.add_faults([{"method": "CreateSIPDispatchRule", "action": "commit_then_drop", "count": 1}])
    assign(live, N3, billing)
    gw = Probing(lk, live)
    assert reconcile_clinic(live.pk, gateway=gw).outcome == "retry"
    assert LineRule.objects.get(clinic=live, line=str(billing.pk)).intent is not None
    converge(gw, live)
    assert len(lk.created_ids("CreateSIPDispatchRule")) == 3  # main, spanish, billing once
    assert lines(lk, live)[N3] == "billing"


def test_a_foreign_rule_holding_a_lines_number_is_a_conflict_and_left_alone(live, lk, spanish):
    gw = Probing(lk, live)
    prov = Provisioning.objects.get(clinic=live)
    foreign = gw.create_dispatch_rule(
        RuleSpec(
            name="theirs",
            metadata="{}",
            trunk_ids=(prov.trunk_id,),
            room_prefix="theirs",
            hide_phone_number=False,
            agents=(),
            numbers=(N3,),
        )
    )
    assign(live, N3, spanish)
    result = reconcile_clinic(live.pk, gateway=gw)
    assert result.outcome == "failed"
    assert "does not manage" in result.detail and N3 in result.detail
    assert foreign.rule_id in {r["sip_dispatch_rule_id"] for r in lk.state()["dispatch_rules"]}
    assert gw.unrouted() == []


def test_offboarding_deletes_every_rule_before_the_trunk(live, lk, owner):
    since = len(lk.requests())
    services.clinic_offboard(clinic=live, actor=owner)
    assert reconcile_clinic(live.pk).outcome == "converged"
    assert writes(lk, since) == ["DeleteSIPDispatchRule", "DeleteSIPDispatchRule", "DeleteSIPTrunk"]
    assert lk.state()["dispatch_rules"] == [] and lk.state()["inbound_trunks"] == []
    assert not LineRule.objects.filter(clinic=live).exists()


def test_the_drift_scan_repairs_a_deleted_line_rule_and_claims_line_rules(live, lk, spanish):
    gw = Probing(lk, live)
    row = LineRule.objects.get(clinic=live)
    report = drift.scan(gw)
    assert report["drift_count"] == 0 and report["orphans"] == 0
    gw.delete_dispatch_rule(row.rule_id)  # behind Switchboard's back: N2 falls to main
    report = drift.scan(gw)
    assert report["drift_count"] == 1 and "of a line is missing" in report["drifted"][0]
    assert reconcile_clinic(live.pk, gateway=gw, verify=True).outcome == "converged"
    assert lines(lk, live)[N2] == "spanish-line"
    assert LineRule.objects.get(clinic=live).rule_id != row.rule_id


def test_the_batch_goes_live_and_hands_the_line_rules_to_a_one_clinic_run(
    clinic3, spanish, owner, lk
):
    assign(clinic3, N2, spanish)
    services.clinic_go_live(clinic=clinic3, actor=owner)
    result = reconcile_batch([clinic3.pk], gateway=Probing(lk, clinic3))
    assert result.handed_over == [str(clinic3.pk)]  # the trunk and trunk-wide rule are made
    prov = Provisioning.objects.get(clinic=clinic3)
    assert prov.trunk_id and prov.dispatch_rule_id
    converge(Probing(lk, clinic3), clinic3)
    assert lines(lk, clinic3) == {N1: "main", N2: "spanish-line", N3: "main"}


def test_the_staff_console_compares_each_lines_rule(live, lk, spanish):
    from telephony.console import compare_clinic

    gw = Probing(lk, live)
    found = compare_clinic(live, gateway=gw)
    ((title, cmp),) = found["lines"]
    assert title == "Dispatch rule of the line “Spanish line”" and not found["error"]
    assert cmp.observed_present and cmp.rows and all(row.same for row in cmp.rows)
    gw.delete_dispatch_rule(cmp.object_id)
    ((_, gone),) = compare_clinic(live, gateway=gw)["lines"]
    assert gone.observed_present is False and "is not in LiveKit" in gone.note


def test_a_bulk_go_live_converges_a_clinic_with_two_lines_through_the_batch_task(
    clinic3, spanish, owner, lk, django_capture_on_commit_callbacks
):
    """Decision 0120: the batch creates the trunk and trunk-wide rule of every clinic, and
    hands a clinic with a numbered line to a one-clinic run, which creates the line's rule.
    The whole path of a bulk go-live: one transaction, one published batch, the batch task,
    the one-clinic tasks it enqueues."""
    from unittest import mock

    from django.db import transaction

    from telephony import tasks
    from tests.factories import make_clinic

    assign(clinic3, N2, spanish)
    singles = [make_clinic(owner, f"Bulk single {i}") for i in range(2)]
    for i, single in enumerate(singles):
        services.phone_number_add(clinic=single, number=f"+1415555016{i}")
    with (
        mock.patch("telephony.publishing._publish_batch") as batch,
        mock.patch("telephony.publishing._publish") as one,
        django_capture_on_commit_callbacks(execute=True),
        transaction.atomic(),
    ):
        for c in (clinic3, *singles):
            services.clinic_go_live(clinic=c, actor=owner)
    one.assert_not_called()
    (ids,) = batch.call_args.args
    assert sorted(ids) == sorted(str(c.pk) for c in (clinic3, *singles))

    enqueued: list[str] = []

    def run_now(args, **kwargs):  # the one-clinic task, run here until it converges
        enqueued.append(args[0])
        for _ in range(5):
            if reconcile_clinic(args[0]).outcome == "converged":
                return

    with mock.patch.object(tasks.reconcile_clinic_task, "apply_async", side_effect=run_now):
        counts = tasks.reconcile_clinics_task(ids)

    assert enqueued == [str(clinic3.pk)], counts  # only the clinic with a numbered line
    assert lines(lk, clinic3) == {N1: "main", N2: "spanish-line", N3: "main"}
    (row,) = LineRule.objects.filter(clinic=clinic3)
    assert (row.line, row.numbers, row.intent) == (str(spanish.pk), [N2], None)
    for c in (clinic3, *singles):
        prov = Provisioning.objects.get(clinic=c)
        assert prov.state == "active" and prov.observed_generation == prov.generation
        assert plan_clinic(c.pk).in_sync
    for i, single in enumerate(singles):
        assert line_of(lk, single, f"+1415555016{i}") == "main"
