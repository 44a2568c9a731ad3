"""go-live, offboard, retry (202s) and GET provisioning/."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from telephony.models import Provisioning, ProvisioningEvent
from telephony.services import phone_number_add
from tenants.models import Clinic
from tests.api_helpers import api_as, clinic_url, iso

pytestmark = pytest.mark.django_db

N1 = "+14155550100"


@pytest.fixture
def publish():
    """Observe the enqueue without a broker."""
    with mock.patch("telephony.publishing._publish") as p:
        yield p


def _prov(clinic: Clinic) -> Provisioning:
    return Provisioning.objects.get(clinic=clinic)


def test_go_live_is_blocked_with_a_sentence_when_there_is_no_number(
    clinic, owner, publish, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        r = api_as(owner).post(clinic_url(clinic, "go-live/"))
    assert r.status_code == 400
    assert r.json() == {"non_field_errors": ["Add at least one phone number."]}
    clinic.refresh_from_db()
    assert clinic.state == "draft"
    assert (_prov(clinic).generation, _prov(clinic).state) == (0, "new")
    assert callbacks == [] and not publish.called


def test_go_live_is_blocked_until_the_email_is_verified(clinic, owner, publish, settings):
    settings.REQUIRE_EMAIL_VERIFICATION = True
    phone_number_add(clinic=clinic, number=N1)
    owner.email_verified_at = None
    owner.save()
    r = api_as(owner).post(clinic_url(clinic, "go-live/"))
    assert r.status_code == 400
    assert r.json() == {
        "non_field_errors": ["Verify your email address (check your inbox for the link)."]
    }


def test_go_live_enqueues_reconcile_on_commit(
    clinic, owner, publish, django_capture_on_commit_callbacks
):
    phone_number_add(clinic=clinic, number=N1)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        r = api_as(owner).post(clinic_url(clinic, "go-live/"))
        assert not publish.called  # nothing is published before the commit
    for callback in callbacks:
        callback()

    assert r.status_code == 202
    assert r.json() == {"state": "pending", "detail": "Provisioning has started."}
    publish.assert_called_once_with(str(clinic.pk), False)
    clinic.refresh_from_db()
    assert clinic.state == "live"
    assert (_prov(clinic).generation, _prov(clinic).state) == (1, "pending")
    event = ProvisioningEvent.objects.get(clinic=clinic)
    assert (event.action, event.detail, event.actor) == ("requested", "go live", owner)


def test_admin_member_may_go_live(clinic, admin_member, publish):
    phone_number_add(clinic=clinic, number=N1)
    assert api_as(admin_member).post(clinic_url(clinic, "go-live/")).status_code == 202


def test_offboard_by_the_owner(clinic, owner, publish, django_capture_on_commit_callbacks):
    phone_number_add(clinic=clinic, number=N1)
    Clinic.objects.filter(pk=clinic.pk).update(state=Clinic.State.LIVE)

    with django_capture_on_commit_callbacks(execute=True):
        r = api_as(owner).post(clinic_url(clinic, "offboard/"))

    assert r.status_code == 202
    assert r.json() == {
        "state": "deprovisioning",
        "detail": "The clinic's LiveKit objects are being removed.",
    }
    publish.assert_called_once_with(str(clinic.pk), False)
    clinic.refresh_from_db()
    assert clinic.state == "offboarded"
    # An offboarded clinic is gone from the API.
    assert api_as(owner).get(clinic_url(clinic)).status_code == 404


@pytest.mark.parametrize("who", ["admin_member", "viewer"])
def test_only_the_owner_may_offboard(clinic, who, request, publish):
    user = request.getfixturevalue(who)
    r = api_as(user).post(clinic_url(clinic, "offboard/"))
    assert r.status_code == 403
    clinic.refresh_from_db()
    assert clinic.state == "draft"


def test_retry_after_a_failure(clinic, owner, publish, django_capture_on_commit_callbacks):
    Clinic.objects.filter(pk=clinic.pk).update(state=Clinic.State.LIVE)
    Provisioning.objects.filter(clinic=clinic).update(
        state="failed", generation=2, observed_generation=1, attempts=12, last_error="Boom."
    )

    with django_capture_on_commit_callbacks(execute=True):
        r = api_as(owner).post(clinic_url(clinic, "retry/"))

    assert r.status_code == 202
    assert r.json() == {"state": "pending", "detail": "Provisioning will be retried now."}
    assert (_prov(clinic).state, _prov(clinic).attempts) == ("pending", 0)
    publish.assert_called_once_with(str(clinic.pk), False)
    assert ProvisioningEvent.objects.get(clinic=clinic).actor == owner


@pytest.mark.parametrize("path", ["go-live/", "retry/"])
def test_viewer_cannot_go_live_or_retry(clinic, viewer, path, publish):
    phone_number_add(clinic=clinic, number=N1)
    r = api_as(viewer).post(clinic_url(clinic, path))
    assert r.status_code == 403
    assert not publish.called
    assert _prov(clinic).generation == 0


@pytest.mark.parametrize("path", ["go-live/", "retry/", "offboard/"])
def test_outsider_gets_404(clinic, outsider, path, publish):
    phone_number_add(clinic=clinic, number=N1)
    r = api_as(outsider).post(clinic_url(clinic, path))
    assert r.status_code == 404
    clinic.refresh_from_db()
    assert clinic.state == "draft"
    assert not publish.called


def test_provisioning_status(clinic, viewer):
    nxt = timezone.now() + timedelta(seconds=30)
    Provisioning.objects.filter(clinic=clinic).update(
        state="retrying",
        generation=3,
        observed_generation=2,
        trunk_id="ST_abc",
        dispatch_rule_id="SDR_def",
        attempts=2,
        last_error="LiveKit did not answer in time; retrying.",
        next_attempt_at=nxt,
    )
    e1 = ProvisioningEvent.objects.create(clinic=clinic, generation=3, action="plan")
    e2 = ProvisioningEvent.objects.create(
        clinic=clinic,
        generation=3,
        action="update_trunk",
        outcome="error",
        detail="timeout",
        duration_ms=10000,
    )

    r = api_as(viewer).get(clinic_url(clinic, "provisioning/"))

    assert r.status_code == 200
    assert r.json() == {
        "state": "retrying",
        "state_label": "Retrying",
        "clinic_state": "draft",
        "generation": 3,
        "observed_generation": 2,
        "trunk_id": "ST_abc",
        "dispatch_rule_id": "SDR_def",
        "room_prefix": clinic.room_prefix,
        "attempts": 2,
        "last_error": "LiveKit did not answer in time; retrying.",
        "next_attempt_at": iso(nxt),
        "converged_at": None,
        "events": [
            {
                "action": "update_trunk",
                "outcome": "error",
                "detail": "timeout",
                "generation": 3,
                "duration_ms": 10000,
                "at": iso(e2.at),
            },
            {
                "action": "plan",
                "outcome": "ok",
                "detail": "",
                "generation": 3,
                "duration_ms": None,
                "at": iso(e1.at),
            },
        ],
    }


def test_provisioning_shows_the_recent_events_in_constant_queries(clinic, owner):
    client = api_as(owner)
    url = clinic_url(clinic, "provisioning/")
    client.get(url)  # the token's first use records when it was used (once a minute at most)

    def queries_for(n_events: int) -> int:
        ProvisioningEvent.objects.bulk_create(
            ProvisioningEvent(clinic=clinic, action=f"step-{i}") for i in range(n_events)
        )
        with CaptureQueriesContext(connection) as ctx:
            r = client.get(url)
        assert len(r.json()["events"]) == min(20, ProvisioningEvent.objects.count())
        return len(ctx.captured_queries)

    assert queries_for(2) == queries_for(30)


def test_provisioning_of_another_clinic_is_404(clinic, outsider):
    assert api_as(outsider).get(clinic_url(clinic, "provisioning/")).status_code == 404
