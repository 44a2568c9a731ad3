"""Go-live latency: API `go-live` to provisioning state active, one clinic at a time.

    python -m bench.bench_golive [--clinics 200] [--pool threads] [--concurrency 4]

The real app under gunicorn on loopback, a real `celery worker` on Redis, PostgreSQL, the
emulator at 0 ms. For each clinic: POST /api/v1/clinics/<slug>/go-live/ (token auth) at t0,
then wait until its Provisioning row is converged; latency = converged_at - t0 (one clock:
same machine). Floor, measured in the same run and interleaved: the broker round trip, a
no-op task's enqueue -> start. Targets: p50 <= 150 ms, p95 <= 500 ms.

Go-lives start at most every `--interval` seconds (0.15 s: two calls each stay under the
rate limiter's 1,000/min), so the figure is one clinic's latency, not a queue's: back to
back, every go-live would wait about 120 ms for its two tokens once the burst is spent.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid

from bench import common


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clinics", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--pool", default="threads")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--interval", type=float, default=0.15)
    args = parser.parse_args()

    with common.emulator() as emu:
        common.setup_django(emu.url)
        import requests

        from bench.tasks import ping
        from telephony.models import Provisioning

        common.flush()
        common.purge_queue()
        clinics = common.seed_clinics(args.clinics + args.warmup, tokens=True)
        env = common.platform_env(emu.url)
        worker = common.start_worker(env, pool=args.pool, concurrency=args.concurrency)
        web, base = common.start_web(env)
        r = common.redis_client()
        key = f"bench:ping:{uuid.uuid4().hex[:8]}"
        http = requests.Session()
        latencies, http_ms, floor = [], [], []
        try:
            next_start = time.monotonic()
            for i, clinic in enumerate(clinics):
                time.sleep(max(0.0, next_start - time.monotonic()))
                next_start = time.monotonic() + args.interval
                # The floor: a no-op task's enqueue -> start, right before this go-live.
                sent = time.time()
                ping.apply_async(args=[sent, key])
                _, raw = r.blpop([key], timeout=10) or (None, None)
                if raw is None:
                    raise RuntimeError("the no-op task did not run within 10 s")
                sent_at, started = json.loads(raw)
                t0 = time.time()
                resp = http.post(
                    f"{base}/api/v1/clinics/{clinic['slug']}/go-live/",
                    headers={"Authorization": f"Token {clinic['token']}"},
                    timeout=30,
                )
                t_http = time.time()
                if resp.status_code != 202:
                    raise RuntimeError(f"go-live answered {resp.status_code}: {resp.text[:300]}")
                done = _wait_converged(Provisioning, clinic["id"])
                if i < args.warmup:
                    continue
                floor.append((started - sent_at) * 1000)
                http_ms.append((t_http - t0) * 1000)
                latencies.append((done - t0) * 1000)
        finally:
            web.stop()
            worker.stop()
        requests_log = emu.control.requests_summary()["requests"]

    calls = {}
    for entry in requests_log:
        calls[entry["method"]] = calls.get(entry["method"], 0) + 1
    golive = common.summary(latencies)
    broker = common.summary(floor)
    results = {
        "clinics": len(latencies),
        "worker": {"pool": args.pool, "concurrency": args.concurrency},
        "interval_s": args.interval,
        "golive_ms": golive,
        "http_202_ms": common.summary(http_ms),
        "broker_round_trip_ms": broker,
        "upstream_calls": calls,
        "targets": {"p50_ms": 150, "p95_ms": 500},
        "ratio_p50_to_floor": golive["p50"] / broker["p50"],
        "met": golive["p50"] <= 150 and golive["p95"] <= 500,
    }
    common.write_results("golive", results)
    _plot(latencies, floor, http_ms)


def _wait_converged(model: type, clinic_id: str, timeout: float = 30.0) -> float:
    """Seconds since the epoch at which the clinic's provisioning converged."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = (
            model.objects.filter(clinic_id=clinic_id, state="active")  # type: ignore[attr-defined]
            .values_list("converged_at", "observed_generation", "generation")
            .first()
        )
        if row and row[0] is not None and row[1] == row[2]:
            return float(row[0].timestamp())
        time.sleep(0.002)
    raise RuntimeError(f"clinic {clinic_id} did not go live within {timeout} s")


def _plot(latencies: list[float], floor: list[float], http_ms: list[float]) -> None:
    plt = common.pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for values, label in (
        (latencies, "go-live to active"),
        (http_ms, "go-live HTTP 202"),
        (floor, "broker round trip (no-op task)"),
    ):
        ordered = sorted(values)
        ax.plot(ordered, [(i + 1) / len(ordered) for i in range(len(ordered))], label=label)
    ax.axvline(150, color="grey", linestyle="--", linewidth=0.8)
    ax.axvline(500, color="grey", linestyle=":", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("milliseconds (log); dashed: p50 target 150 ms, dotted: p95 target 500 ms")
    ax.set_ylabel("fraction of clinics")
    ax.set_title(f"Go-live latency, {len(latencies)} clinics, emulator at 0 ms")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(common.plot_path("golive"), dpi=110)


if __name__ == "__main__":
    main()
