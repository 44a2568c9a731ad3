"""A no-op task for the broker round trip (loaded by bench workers with `-I bench.tasks`)."""

from __future__ import annotations

import json
import time

from celery import shared_task


@shared_task(name="bench.ping", ignore_result=True, acks_late=True)
def ping(sent_at: float, key: str) -> None:
    """Record when the task started; the publisher records when it was sent."""
    started = time.time()
    from bench.common import redis_client

    redis_client().rpush(key, json.dumps([sent_at, started]))
