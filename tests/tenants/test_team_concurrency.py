"""The last-owner rule under concurrency, on real PostgreSQL with committed transactions.

Two owners act at the same moment (two threads, two database connections, released by a
barrier). The services lock all of the clinic's memberships before counting owners, so
exactly one change wins and the clinic keeps an owner. To make the race window wide enough
to matter, the lock helper is wrapped to pause after taking the lock; the control test at
the bottom shows that without the lock the same race leaves the clinic with no owner, so
these tests would catch the lock's removal.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from django.db import connection

from tenants import team
from tenants.models import Membership
from tests.factories import UserFactory, make_clinic

pytestmark = pytest.mark.django_db(transaction=True)

PAUSE_SECONDS = 0.3


@pytest.fixture
def two_owners():
    a = UserFactory(email="a@owners.example")
    b = UserFactory(email="b@owners.example")
    clinic = make_clinic(a, "Race Dental")
    Membership.objects.create(clinic=clinic, user=b, role="owner")
    return clinic, a, b


@pytest.fixture
def slow_lock(monkeypatch):
    real = team._lock_memberships

    def locked_then_pause(clinic):
        members = real(clinic)
        time.sleep(PAUSE_SECONDS)
        return members

    monkeypatch.setattr(team, "_lock_memberships", locked_then_pause)


def race(*calls: Callable[[], object]) -> list[object]:
    """Run the calls at once, each in its own thread and connection; 'ok' or the error."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(i: int, call: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=10)
            call()
            results[i] = "ok"
        except Exception as exc:  # the outcome under test
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results


def member(clinic, user):
    return Membership.objects.select_related("clinic").get(clinic=clinic, user=user)


def owners(clinic):
    return Membership.objects.filter(clinic=clinic, role="owner").count()


def assert_exactly_one_won(results, refusal=team.TeamError):
    assert sorted(map(str, [r == "ok" for r in results])) == ["False", "True"], results
    (refused,) = [r for r in results if r != "ok"]
    assert isinstance(refused, refusal), refused


def test_two_owners_leaving_at_once_leave_one_owner(two_owners, slow_lock):
    clinic, a, b = two_owners
    results = race(
        lambda: team.member_leave(clinic=clinic, user=a),
        lambda: team.member_leave(clinic=clinic, user=b),
    )
    assert_exactly_one_won(results)
    assert "last owner" in " ".join(next(r for r in results if r != "ok").messages)
    assert owners(clinic) == 1


def test_two_owners_stepping_down_at_once_leave_one_owner(two_owners, slow_lock):
    clinic, a, b = two_owners
    ma, mb = member(clinic, a), member(clinic, b)
    results = race(
        lambda: team.member_change_role(membership=ma, actor=a, role="admin"),
        lambda: team.member_change_role(membership=mb, actor=b, role="admin"),
    )
    assert_exactly_one_won(results)
    assert owners(clinic) == 1


def test_two_owners_demoting_each_other_at_once_leave_one_owner(two_owners, slow_lock):
    clinic, a, b = two_owners
    ma, mb = member(clinic, a), member(clinic, b)
    results = race(
        lambda: team.member_change_role(membership=mb, actor=a, role="viewer"),
        lambda: team.member_change_role(membership=ma, actor=b, role="viewer"),
    )
    # The loser is refused because, under the lock, it is no longer an owner itself.
    assert_exactly_one_won(results, refusal=Exception)
    assert owners(clinic) == 1


def test_two_owners_removing_each_other_at_once_leave_one_owner(two_owners, slow_lock):
    clinic, a, b = two_owners
    ma, mb = member(clinic, a), member(clinic, b)
    results = race(
        lambda: team.member_remove(membership=mb, actor=a),
        lambda: team.member_remove(membership=ma, actor=b),
    )
    assert_exactly_one_won(results, refusal=Exception)
    assert owners(clinic) == 1
    assert Membership.objects.filter(clinic=clinic).count() == 1


def test_one_leaving_while_the_other_steps_down_leaves_one_owner(two_owners, slow_lock):
    clinic, a, b = two_owners
    mb = member(clinic, b)
    results = race(
        lambda: team.member_leave(clinic=clinic, user=a),
        lambda: team.member_change_role(membership=mb, actor=b, role="admin"),
    )
    assert_exactly_one_won(results)
    assert owners(clinic) == 1


def test_control_without_the_lock_the_race_leaves_no_owner(two_owners, monkeypatch):
    """The same race with the lock taken out: both win. This is what the lock prevents."""
    clinic, a, b = two_owners

    def unlocked_then_pause(c):
        members = list(Membership.objects.select_related("user").filter(clinic=c).order_by("pk"))
        time.sleep(PAUSE_SECONDS)
        return members

    monkeypatch.setattr(team, "_lock_memberships", unlocked_then_pause)
    results = race(
        lambda: team.member_leave(clinic=clinic, user=a),
        lambda: team.member_leave(clinic=clinic, user=b),
    )
    assert results == ["ok", "ok"]
    assert owners(clinic) == 0
