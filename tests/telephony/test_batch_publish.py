"""How changes are published: one reconcile_clinic per lone change, reconcile_clinics batches
for a transaction that changes many clinics, and the batch task's follow-ups."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import transaction

from telephony import publishing, services
from telephony.livekit_gateway import LiveKitTransientError
from telephony.models import LiveKitProject, Provisioning
from telephony.tasks import reconcile_clinics_task
from tests.factories import UserFactory, make_clinic

pytestmark = pytest.mark.django_db


@pytest.fixture
def published(monkeypatch):
    seen: dict[str, list] = {"one": [], "batch": []}
    monkeypatch.setattr(
        publishing, "_publish", lambda cid, verify: seen["one"].append((cid, verify))
    )
    monkeypatch.setattr(publishing, "_publish_batch", lambda ids: seen["batch"].append(list(ids)))
    return seen


def ready(n: int) -> list:
    owner = UserFactory()
    clinics = []
    for i in range(n):
        clinic = make_clinic(owner, f"Pub {i}")
        services.phone_number_add(clinic=clinic, number=f"+1415559{i:04d}")
        clinics.append(clinic)
    return clinics


def test_a_transaction_that_takes_many_clinics_live_publishes_one_batch(
    published, django_capture_on_commit_callbacks
):
    clinics = ready(3)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        for clinic in clinics:
            services.clinic_go_live(clinic=clinic, actor=None)

    assert published == {"one": [], "batch": [[str(c.pk) for c in clinics]]}


def test_a_lone_change_publishes_reconcile_clinic_as_before(
    published, django_capture_on_commit_callbacks
):
    (clinic,) = ready(1)
    with django_capture_on_commit_callbacks(execute=True):
        services.clinic_go_live(clinic=clinic, actor=None)

    assert published == {"one": [(str(clinic.pk), False)], "batch": []}


def test_batches_are_cut_at_the_batch_size(published, django_capture_on_commit_callbacks, settings):
    settings.PROVISIONING_BATCH_SIZE = 2
    clinics = ready(5)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        for clinic in clinics:
            services.clinic_go_live(clinic=clinic, actor=None)

    ids = [str(c.pk) for c in clinics]
    assert published["batch"] == [ids[0:2], ids[2:4]]
    assert published["one"] == [(ids[4], False)]  # a batch of one is a plain reconcile


def test_batches_hold_one_project_each_and_take_the_projects_in_turn(
    published, django_capture_on_commit_callbacks, settings
):
    """Each batch is one LiveKit project's (its gateway, its limiter); the projects take
    turns, so workers taking tasks in order work on every project at once (decision 0136)."""
    settings.PROVISIONING_BATCH_SIZE = 2
    beta = LiveKitProject.objects.create(name="beta", url="http://127.0.0.1:2", api_key="k",
                                         api_secret="s" * 32, sip_uri="sip:beta.example",
                                         accepting_new_clinics=False)  # fmt: skip
    clinics = ready(7)
    for clinic in clinics[1::2]:  # 1, 3, 5 in beta; 0, 2, 4, 6 in the default project
        clinic.livekit_project = beta
        clinic.save(update_fields=["livekit_project"])
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        for clinic in clinics:
            services.clinic_go_live(clinic=clinic, actor=None)

    ids = [str(c.pk) for c in clinics]
    assert published["batch"] == [[ids[0], ids[2]], [ids[1], ids[3]], [ids[4], ids[6]]]
    assert published["one"] == [(ids[5], False)]


def test_batches_go_out_unsplit_when_the_projects_cannot_be_read(
    published, django_capture_on_commit_callbacks, settings, monkeypatch
):
    settings.PROVISIONING_BATCH_SIZE = 2
    clinics = ready(3)

    def broken(*args, **kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr(publishing, "_projects_of", broken)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        for clinic in clinics:
            services.clinic_go_live(clinic=clinic, actor=None)

    ids = [str(c.pk) for c in clinics]
    assert published["batch"] == [ids[0:2]] and published["one"] == [(ids[2], False)]


def test_a_change_undone_by_a_savepoint_rollback_is_not_published(
    published, django_capture_on_commit_callbacks
):
    undone, kept = ready(2)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        with pytest.raises(RuntimeError), transaction.atomic():
            services.clinic_go_live(clinic=undone, actor=None)
            raise RuntimeError("rolled back")
        services.clinic_go_live(clinic=kept, actor=None)

    assert published == {"one": [(str(kept.pk), False)], "batch": []}
    assert Provisioning.objects.get(clinic=undone).generation == 0


def test_a_clinic_changed_twice_in_one_transaction_is_published_once(
    published, django_capture_on_commit_callbacks
):
    first, second = ready(2)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        services.clinic_go_live(clinic=first, actor=None)
        services.clinic_go_live(clinic=second, actor=None)
        services.agent_config_update(clinic=first, greeting="Hello again!")

    assert published == {"one": [], "batch": [[str(first.pk), str(second.pk)]]}


@pytest.mark.django_db(transaction=True)
def test_real_commits_and_rollbacks_publish_each_committed_transaction_once(published):
    """Real transactions, not the test's savepoints: a rolled-back transaction leaves
    nothing to publish in the next one, and each commit starts a fresh batch."""
    undone, first, second, lone = ready(4)
    with pytest.raises(RuntimeError), transaction.atomic():
        services.clinic_go_live(clinic=undone, actor=None)
        raise RuntimeError("rolled back")
    assert published == {"one": [], "batch": []}

    with transaction.atomic():
        services.clinic_go_live(clinic=first, actor=None)
        services.clinic_go_live(clinic=second, actor=None)
    assert published == {"one": [], "batch": [[str(first.pk), str(second.pk)]]}

    services.clinic_go_live(clinic=lone, actor=None)
    assert published == {"one": [(str(lone.pk), False)], "batch": [[str(first.pk), str(second.pk)]]}


def test_verifying_reprovisions_are_never_batched(published, django_capture_on_commit_callbacks):
    clinics = ready(2)
    for clinic in clinics:
        services.clinic_go_live(clinic=clinic, actor=None)
    published["one"].clear()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        for clinic in clinics:
            services.provisioning_reprovision(clinic=clinic, actor=None)

    assert published == {"one": [(str(c.pk), True) for c in clinics], "batch": []}


def test_the_batch_task_hands_each_left_over_clinic_to_its_own_task(fake_gateway):
    converged, retried, failed = ready(3)
    for clinic in (converged, retried, failed):
        services.clinic_go_live(clinic=clinic, actor=None)
    Provisioning.objects.filter(clinic=failed).update(state="failed")
    fake_gateway.fail("create_inbound_trunk", LiveKitTransientError("LiveKit is unavailable."))

    with mock.patch("telephony.tasks.reconcile_clinic_task.apply_async") as follow_up:
        counts = reconcile_clinics_task.run([str(c.pk) for c in (converged, retried, failed)])

    assert (counts["converged"], counts["retry"], counts["noop"]) == (1, 1, 1)
    ((_args, kwargs),) = follow_up.call_args_list
    (clinic_id,) = kwargs["args"]
    assert Provisioning.objects.get(clinic_id=clinic_id).state == "retrying"
    assert 0 <= kwargs["countdown"] <= 2


def test_the_services_publish_the_tasks_by_name_with_the_same_arguments():
    """services.py publishes by task name (no import of telephony.tasks); the message is
    the one the task objects would send."""
    from telephony import tasks

    with (
        mock.patch.object(tasks.reconcile_clinic_task, "apply_async") as one,
        mock.patch.object(tasks.reconcile_clinics_task, "apply_async") as many,
    ):
        publishing._publish("c-1", True)
        publishing._publish_batch(["a", "b"])

    (args, kwargs), _options = one.call_args.args[:2], one.call_args.kwargs
    assert list(args) == ["c-1"] and kwargs == {"verify": True}
    assert list(many.call_args.args[0]) == [["a", "b"]]
