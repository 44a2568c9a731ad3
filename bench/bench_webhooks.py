"""Webhook delivery: 10,000 events to 20 endpoints (500 each), one endpoint slow.

    python -m bench.bench_webhooks [--events 10000] [--endpoints 20] [--slow-s 0.2]
                                   [--processes 1] [--concurrency 8]

Real parts: PostgreSQL (the bench database), Redis, `celery worker` processes (threads
pool), a receiver subprocess (bench/webhook_sink.py) answering at once, except on the slow
endpoint's path where it waits `--slow-s` per request. The events are written as the outbox
writes them (one WebhookEvent and one WebhookDelivery each) and published as commits publish
them; a sweeper thread runs every 5 s as beat would.

Figures: deliveries per second per worker process (the fast endpoints' deliveries over the
time until the last of them), each endpoint's time to its last delivery, the delay of each
delivery (finished_at - created_at) p50/p95/max for the fast endpoints, and the slow
endpoint's own completion. The slow endpoint holds at most WEBHOOKS_ENDPOINT_CONCURRENCY
worker threads, so the fast endpoints should finish as if it were not there.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time

from bench import common


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--endpoints", type=int, default=20)
    parser.add_argument("--slow-s", type=float, default=0.2)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    extra = {"WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS": "true", "LOG_LEVEL": "WARNING"}
    common.setup_django(**extra)
    from django.conf import settings
    from django.utils import timezone

    from tenants.models import Clinic
    from webhooks import events as outbox
    from webhooks import services
    from webhooks.models import WebhookDelivery, WebhookEvent
    from webhooks.sweeper import republish_due

    common.flush()
    common.purge_queue()
    port = common.free_port()
    slow_path = "/ep00"
    sink = common.Proc(
        "webhook-sink",
        [sys.executable, "-m", "bench.webhook_sink", "--port", str(port),
         "--slow-path", slow_path, "--slow-s", str(args.slow_s)],
        common.platform_env(),
    )  # fmt: skip
    sink.wait_for_log("sink ready")
    seeded = common.seed_clinics(args.endpoints)
    endpoints = []
    for i, c in enumerate(seeded):
        clinic = Clinic.objects.get(pk=c["id"])
        endpoint, _ = services.endpoint_create(
            clinic=clinic, url=f"http://127.0.0.1:{port}/ep{i:02d}", chosen=["number.added"]
        )
        endpoints.append(endpoint)
    per = args.events // args.endpoints
    now = timezone.now()
    rows = []
    for endpoint in endpoints:
        for n in range(per):
            rows.append(
                WebhookEvent(
                    clinic_id=endpoint.clinic_id,
                    type="number.added",
                    payload={
                        "type": "number.added",
                        "timestamp": outbox.iso(now),
                        "data": {"number": {"e164": f"+1555{n:07d}", "label": ""}},
                    },
                )
            )
    made = WebhookEvent.objects.bulk_create(rows, batch_size=2000)
    by_clinic = {e.clinic_id: e for e in endpoints}
    deliveries = WebhookDelivery.objects.bulk_create(
        [WebhookDelivery(endpoint=by_clinic[e.clinic_id], event=e) for e in made],
        batch_size=2000,
    )
    ids = [d.pk for d in deliveries]
    env = common.platform_env(**extra)
    workers = [
        common.start_worker(env, concurrency=args.concurrency, name=f"worker{i}")
        for i in range(args.processes)
    ]
    stop = threading.Event()

    def sweeper() -> None:
        while not stop.wait(5):
            republish_due(timezone.now())

    try:
        started = timezone.now()
        WebhookDelivery.objects.update(next_attempt_at=started, created_at=started)
        t0 = time.monotonic()
        # Interleaved, as 10,000 separate commits would publish them.
        order = [ids[e * per + n] for n in range(per) for e in range(len(endpoints))]
        outbox.publish(order)
        publish_s = time.monotonic() - t0
        threading.Thread(target=sweeper, daemon=True).start()
        budget = 600
        while time.monotonic() - t0 < budget:
            if not WebhookDelivery.objects.filter(status="pending").exists():
                break
            time.sleep(0.5)
        wall = time.monotonic() - t0
    finally:
        stop.set()
        for w in workers:
            w.stop()
        sink.stop()

    slow = endpoints[0]
    done = WebhookDelivery.objects.filter(status="succeeded")
    fast_rows = list(
        done.exclude(endpoint=slow).values_list("created_at", "finished_at", "endpoint_id")
    )
    slow_rows = list(done.filter(endpoint=slow).values_list("created_at", "finished_at"))
    delays = sorted((f - c).total_seconds() for c, f, _ in fast_rows)
    last_by_endpoint: dict[object, float] = {}
    for _c, f, e in fast_rows:
        last_by_endpoint[e] = max(last_by_endpoint.get(e, 0.0), (f - started).total_seconds())
    fast_done_s = max(last_by_endpoint.values()) if last_by_endpoint else None
    slow_done_s = max(((f - started).total_seconds() for _, f in slow_rows), default=None)
    pending = WebhookDelivery.objects.filter(status="pending").count()

    def pct(values: list[float], q: float) -> float:
        return round(values[min(len(values) - 1, int(q * len(values)))], 2) if values else 0.0

    result = {
        "events": len(ids),
        "endpoints": args.endpoints,
        "slow_endpoint_seconds_per_request": args.slow_s,
        "worker_processes": args.processes,
        "threads_per_process": args.concurrency,
        "endpoint_concurrency": settings.WEBHOOKS_ENDPOINT_CONCURRENCY,
        "publish_seconds": round(publish_s, 2),
        "delivered": done.count(),
        "not_delivered": pending,
        "failed": WebhookDelivery.objects.filter(status="failed").count(),
        "wall_seconds": round(wall, 1),
        "fast_endpoints_done_seconds": round(fast_done_s, 1) if fast_done_s else None,
        "fast_deliveries_per_second_per_process": round(
            len(fast_rows) / fast_done_s / args.processes, 1
        )
        if fast_done_s
        else None,
        "fast_delay_p50_s": pct(delays, 0.5),
        "fast_delay_p95_s": pct(delays, 0.95),
        "fast_delay_max_s": round(delays[-1], 2) if delays else None,
        "fast_endpoint_done_spread_s": [
            round(min(last_by_endpoint.values()), 1),
            round(max(last_by_endpoint.values()), 1),
        ]
        if last_by_endpoint
        else None,
        "slow_endpoint_delivered": len(slow_rows),
        "slow_endpoint_done_seconds": round(slow_done_s, 1) if slow_done_s else None,
        "slow_endpoint_floor_seconds": round(
            per * args.slow_s / settings.WEBHOOKS_ENDPOINT_CONCURRENCY, 1
        ),
    }
    print(json.dumps(result, indent=2))
    common.RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    (common.RESULTS / f"webhooks-{stamp}.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
