"""provisioning.state_changed: every change of the phone line's state, whoever writes it
(the engine's fenced writes, its batches, the services, a bare QuerySet.update), is recorded
by the database trigger in the transaction that makes it and reported once (decision 0051)."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection, transaction

from telephony import services as tel
from telephony.livekit_gateway import LiveKitAuthError
from telephony.models import Provisioning
from telephony.provisioning.reconcile import reconcile_batch, reconcile_clinic
from tests.factories import make_clinic
from tests.webhooks.conftest import make_endpoint
from webhooks import sweeper
from webhooks.models import ProvisioningStateChange, WebhookDelivery, WebhookEvent

pytestmark = pytest.mark.django_db
EVENT = "provisioning.state_changed"


def reported(clinic) -> list[tuple[str, str]]:
    found = WebhookEvent.objects.filter(clinic=clinic, type=EVENT).order_by("created_at")
    return [
        (
            e.payload["data"]["provisioning"]["previous_state"],
            e.payload["data"]["provisioning"]["state"],
        )
        for e in found
    ]


def set_state(clinic, state: str) -> None:
    Provisioning.objects.filter(clinic=clinic).update(state=state)


def test_every_change_is_reported_once_in_order_even_two_within_one_sweep(clinic):
    endpoint, _ = make_endpoint(clinic, events=[EVENT])
    set_state(clinic, "pending")
    set_state(clinic, "pending")  # not a change
    set_state(clinic, "active")

    assert sweeper.report_provisioning() == 2
    assert sweeper.report_provisioning() == 0
    assert reported(clinic) == [("new", "pending"), ("pending", "active")]
    last = WebhookEvent.objects.filter(type=EVENT).order_by("created_at").last()
    state = last.payload["data"]["provisioning"]
    assert state["description"] == "Active" and state["changed_at"].endswith("Z")
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 2
    assert not ProvisioningStateChange.objects.exists()


def test_nothing_is_recorded_without_a_subscriber_or_when_the_change_rolls_back(clinic):
    make_endpoint(clinic, events=["call.ended"])
    make_endpoint(clinic, events=[EVENT], enabled=False)
    set_state(clinic, "pending")
    assert not ProvisioningStateChange.objects.exists()

    make_endpoint(clinic, events=[EVENT])
    with pytest.raises(RuntimeError), transaction.atomic():
        set_state(clinic, "active")
        raise RuntimeError("rolled back")
    assert sweeper.report_provisioning() == 0
    assert reported(clinic) == []


def test_the_engine_reports_each_step_of_going_live(clinic, owner, fake_gateway):
    tel.phone_number_add(clinic=clinic, number="+14155550181")
    make_endpoint(clinic, events=[EVENT])
    tel.clinic_go_live(clinic=clinic, actor=owner)
    assert reconcile_clinic(clinic.pk).outcome == "converged"

    sweeper.report_provisioning()
    assert reported(clinic) == [
        ("new", "pending"),
        ("pending", "provisioning"),
        ("provisioning", "active"),
    ]


def test_a_batch_that_fails_reports_the_failure(owner, fake_gateway):
    """The batched go-live writes its rows with one executemany UPDATE: seen all the same."""
    clinics = [make_clinic(owner, f"Batch hook {i}") for i in range(2)]
    for i, clinic in enumerate(clinics):
        tel.phone_number_add(clinic=clinic, number=f"+141555502{i:02d}")
        make_endpoint(clinic, events=[EVENT])
        tel.clinic_go_live(clinic=clinic, actor=owner)
    fake_gateway.fail(
        "create_inbound_trunk",
        LiveKitAuthError("LiveKit refused the API key.", status=401),
        times=2,
    )

    assert len(reconcile_batch([str(c.pk) for c in clinics]).failed) == 2

    sweeper.report_provisioning()
    for clinic in clinics:
        assert reported(clinic)[0] == ("new", "pending")
        assert reported(clinic)[-1][1] == "failed"


@pytest.mark.django_db(transaction=True)
def test_a_change_another_sweeper_holds_is_left_to_it(clinic):
    make_endpoint(clinic, events=[EVENT])
    set_state(clinic, "pending")
    params = connection.get_connection_params()
    with psycopg.connect(**params) as other:
        other.execute("SELECT id FROM webhooks_provisioningstatechange FOR UPDATE")
        assert sweeper.report_provisioning() == 0  # skipped, not waited for
        other.rollback()
    assert sweeper.report_provisioning() == 1
    assert reported(clinic) == [("new", "pending")]
