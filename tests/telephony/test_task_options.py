"""The tasks that must outlive a database outage share one retry policy (DB_RETRY)."""

from __future__ import annotations

import pytest
from django.db import OperationalError

from telephony.purchase_tasks import purchase_number_task
from telephony.task_options import DB_RETRY
from telephony.tasks import reconcile_clinic_task, reconcile_clinics_task
from webhooks import tasks as webhook_tasks

DB_RETRY_TASKS = [
    reconcile_clinic_task,
    reconcile_clinics_task,
    purchase_number_task,
    webhook_tasks.deliver,
]


@pytest.mark.parametrize("task", DB_RETRY_TASKS, ids=lambda t: t.name)
def test_each_task_carries_the_shared_database_retry_policy(task):
    for option, value in DB_RETRY.items():
        assert getattr(task, option) == value, (task.name, option)


def test_the_policy_retries_database_errors_without_limit():
    assert DB_RETRY["acks_late"] and DB_RETRY["reject_on_worker_lost"]
    assert OperationalError in DB_RETRY["autoretry_for"]
    assert DB_RETRY["max_retries"] is None
    assert (DB_RETRY["retry_backoff"], DB_RETRY["retry_backoff_max"]) == (2, 60)


def test_a_database_error_retries_the_task(monkeypatch):
    calls: list[int] = []

    def flaky(delivery_id: int) -> str:
        calls.append(delivery_id)
        if len(calls) < 3:
            raise OperationalError("server closed the connection unexpectedly")
        return "delivered"

    monkeypatch.setattr(webhook_tasks.delivery, "deliver", flaky)
    result = webhook_tasks.deliver.apply(args=[7])
    assert result.get() == "delivered"
    assert calls == [7, 7, 7]
