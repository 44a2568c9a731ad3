"""Bulk onboarding: N clinics go live at once, LiveKit answering every call after 50 ms.

    python -m bench.bench_bulk [--clinics 1000] [--processes 2] [--concurrency 4]
                               [--in-flight 16] [--batch-size 50]

Baseline, in the same run and against the same emulator: a plain sequential script doing
what LiveKit's docs show by hand (livekit-api: create the trunk, create the rule, for each
clinic). Then the platform: the clinics go live through the service in one transaction, so
their reconciles are published at commit as reconcile_clinics batches, and real
`celery worker` processes (the recommended settings by default) bring them all to active.
Wall time runs from the commit to the last converged_at. Runs:

- rate limiter out of the way (1,000,000/min): wall vs baseline (target >= 20x) and vs the
  latency bound N x 2 x 50 ms / concurrency (target <= 1.3), where concurrency is the LiveKit
  calls the platform may have in flight (PROVISIONING_BATCH_IN_FLIGHT x processes, or more
  if the emulator saw more at once);
- rate limiter at LiveKit's documented 1,000/min: wall vs the rate bound 2N / (1,000/min)
  (target <= 1.1), and 429s received (target 0);
- the same clinics one reconcile_clinic task each (PROVISIONING_BATCH_SIZE=1) on the
  previous recommended worker (one process, -c 32): what batching is worth.

Upstream calls per clinic come from the emulator's request log (target <= 2.2), with the
calls in flight over time; worker peak RSS and CPU are sampled throughout.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from typing import Any

import psutil

from bench import common

LATENCY_MS = 50


def baseline(url: str, clinics: list[dict[str, Any]]) -> float:
    """The hand-written sequential script: seconds for all clinics."""
    from livekit import api

    async def run() -> None:
        async with api.LiveKitAPI(url, common.LIVEKIT_KEY, common.LIVEKIT_SECRET) as lk:
            for i, clinic in enumerate(clinics):
                trunk = await lk.sip.create_inbound_trunk(
                    api.CreateSIPInboundTrunkRequest(
                        trunk=api.SIPInboundTrunkInfo(
                            name=clinic["slug"], numbers=[f"+1777{i:07d}"], krisp_enabled=True
                        )
                    )
                )
                await lk.sip.create_dispatch_rule(
                    api.CreateSIPDispatchRuleRequest(
                        dispatch_rule=api.SIPDispatchRuleInfo(
                            name=clinic["slug"],
                            trunk_ids=[trunk.sip_trunk_id],
                            hide_phone_number=True,
                            rule=api.SIPDispatchRule(
                                dispatch_rule_individual=api.SIPDispatchRuleIndividual(
                                    room_prefix=f"base{i:06d}"
                                )
                            ),
                            room_config=api.RoomConfiguration(
                                agents=[api.RoomAgentDispatch(agent_name="receptionist")]
                            ),
                        )
                    )
                )

    began = time.perf_counter()
    asyncio.run(run())
    return time.perf_counter() - began


def platform_run(
    emu: Any,
    n: int,
    *,
    pool: str,
    concurrency: int,
    per_minute: float,
    burst: float,
    label: str,
    processes: int = 1,
    in_flight: int = 32,
    batch_size: int = 50,
) -> dict[str, Any]:
    from django.db import transaction

    from telephony import services
    from telephony.models import Provisioning
    from tenants.models import Clinic

    common.flush()
    common.purge_queue()
    common.fresh_emulators([emu], LATENCY_MS)
    seeded = common.seed_clinics(n)
    workers = common.start_batch_workers(
        emu.url, label=label, processes=processes, pool=pool, concurrency=concurrency,
        per_minute=per_minute, burst=burst, in_flight=in_flight, batch_size=batch_size,
    )  # fmt: skip
    clinics = list(Clinic.objects.filter(pk__in=[c["id"] for c in seeded]))
    common.warm_publisher()
    others = [common.RssSampler(w.pid) for w in workers[1:]]
    try:
        for sampler in others:
            sampler.__enter__()
        with common.RssSampler(workers[0].pid) as rss:
            committed: list[float] = []
            machine = psutil.cpu_times()
            with transaction.atomic():
                transaction.on_commit(lambda: committed.append(time.time()))
                for clinic in clinics:
                    services.clinic_go_live(clinic=clinic, actor=None)
                committing = time.time()
            published = time.time()
            done = common.wait_live(n, max(120.0, n / 20, 4 * n * 2 / (per_minute / 60)), 0.1)
            machine_after = psutil.cpu_times()
        for sampler in others:
            sampler.__exit__(None, None, None)
    finally:
        for worker in workers:
            worker.stop()
    converged = common.converged_after(committing, done, n, label)
    log = emu.control.requests_summary()
    methods = Counter(r["method"] for r in log["requests"])
    statuses = Counter(r["status"] for r in log["requests"])
    starts = sorted(r["started_at"] for r in log["requests"])
    ends = [r["at"] or r["started_at"] for r in log["requests"]]
    busy = sum(e - s for s, e in zip((r["started_at"] for r in log["requests"]), ends, strict=True))
    attempts = Provisioning.objects.filter(attempts__gt=0).count()
    return {
        "label": label,
        "clinics": n,
        "pool": pool,
        "concurrency": concurrency,
        "processes": processes,
        "batch_in_flight": in_flight,
        "batch_size": batch_size,
        "rate_limit_per_minute": per_minute,
        "wall_s": converged[-1],
        "publish_s": published - committing,
        "commit_s": committed[0] - committing,
        "upstream_calls": sum(methods.values()),
        "upstream_calls_by_method": dict(methods),
        "calls_per_clinic": sum(methods.values()) / n,
        "status_429": statuses.get(429, 0),
        "non_200": sum(v for k, v in statuses.items() if k != 200),
        "max_calls_in_any_60s": common.max_in_window(starts, 60.0),
        # When LiveKit saw the first call and the last reply, from the commit; and the
        # calls in flight on average between the two (the concurrency actually used).
        "first_call_s": starts[0] - committing if starts else None,
        "last_reply_s": max(ends) - committing if ends else None,
        "mean_in_flight": busy / (max(ends) - starts[0]) if len(starts) > 1 else None,
        "in_flight_timeline": _timeline(log["requests"], committing, 0.1),
        # How long LiveKit (the emulator, 50 ms of injected latency) took per call.
        "call_ms": common.summary(
            [((r["at"] or r["started_at"]) - r["started_at"]) * 1000 for r in log["requests"]]
        ),
        "peak_in_flight": log.get("peak_in_flight", {}),
        "peak_in_flight_total": _peak_overlap(log["requests"]),
        "clinics_with_retries": attempts,
        "worker_peak_rss_mb": rss.peak_own,
        "worker_tree_peak_rss_mb": rss.peak_total,
        "worker_cpu_s": rss.cpu_s,
        # Every worker process: their CPU together, and the largest peak RSS among them.
        "workers_cpu_s": rss.cpu_s + sum(o.cpu_s for o in others),
        "workers_peak_rss_mb": max([rss.peak_own, *(o.peak_own for o in others)]),
        # Every process on the machine: the share of both cores busy from commit to done.
        "machine_busy": common.machine_busy(machine, machine_after),
        "converged_s": converged,
    }


def _timeline(requests: list[dict[str, Any]], t0: float, step: float) -> list[float]:
    """Calls in flight on average in each `step` seconds from t0."""
    if not requests:
        return []
    end = max((r["at"] or r["started_at"]) for r in requests)
    slots = [0.0] * (int((end - t0) / step) + 1)
    for r in requests:
        a, b = r["started_at"] - t0, (r["at"] or r["started_at"]) - t0
        i = int(a / step)
        while i < len(slots) and i * step < b:
            lo, hi = max(a, i * step), min(b, (i + 1) * step)
            slots[i] += max(0.0, hi - lo) / step
            i += 1
    return [round(x, 1) for x in slots]


def _peak_overlap(requests: list[dict[str, Any]]) -> int:
    """The most calls LiveKit (the emulator) had in flight at once, all methods together."""
    edges = sorted(
        [(r["started_at"], 1) for r in requests]
        + [(r["at"] or r["started_at"], -1) for r in requests]
    )
    peak = cur = 0
    for _, delta in edges:
        cur += delta
        peak = max(peak, cur)
    return peak


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clinics", type=int, default=1000)
    parser.add_argument("--pool", default="threads")
    parser.add_argument("--concurrency", type=int, default=4, help="celery worker -c")
    parser.add_argument("--processes", type=int, default=2, help="worker processes")
    parser.add_argument(
        "--in-flight", type=int, default=14, help="PROVISIONING_BATCH_IN_FLIGHT per process"
    )
    parser.add_argument("--batch-size", type=int, default=50, help="PROVISIONING_BATCH_SIZE")
    parser.add_argument(
        "--compare-clinics", type=int, default=1000, help="one task per clinic run (0: skip)"
    )
    parser.add_argument("--skip-rate-limited", action="store_true")
    parser.add_argument(
        "--skip-baseline", action="store_true", help="while tuning: no ratio to the baseline"
    )
    parser.add_argument(
        "--sweep", action="store_true", help="worker settings side by side (bulk-sweep-*.json)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="unlimited runs (median reported)")
    parser.add_argument(
        "--scale", default="", help="e.g. 1000,10000: how the cost grows (bulk-scale-*.json)"
    )
    args = parser.parse_args()
    n = args.clinics
    if args.sweep:
        sweep(n, args.batch_size, args.repeat)
        return
    if args.scale:
        scale([int(x) for x in args.scale.split(",")], args)
        return

    with common.emulator(["--request-log-size", str(max(100_000, 4 * n))]) as emu:
        common.setup_django(emu.url)
        emu.control.reset()
        emu.control.add_faults([{"method": "*", "action": "latency", "latency_ms": LATENCY_MS}])
        base_s = (
            float("nan")
            if args.skip_baseline
            else baseline(emu.url, [{"slug": f"baseline-{i}"} for i in range(n)])
        )
        # The machine is shared: repeat the unlimited run and report its median.
        repeats = [
            platform_run(
                emu, n, pool=args.pool, concurrency=args.concurrency,
                per_minute=1_000_000, burst=1_000_000, label="unlimited",
                processes=args.processes, in_flight=args.in_flight,
                batch_size=args.batch_size,
            )
            for _ in range(args.repeat)
        ]  # fmt: skip
        runs = [sorted(repeats, key=lambda r: r["wall_s"])[len(repeats) // 2]]
        if not args.skip_rate_limited:
            runs.append(
                platform_run(
                    emu, n, pool=args.pool, concurrency=args.concurrency,
                    per_minute=1000, burst=20, label="rate-limited", processes=args.processes,
                    in_flight=args.in_flight, batch_size=args.batch_size,
                )
            )  # fmt: skip
        if args.compare_clinics:
            runs.append(
                platform_run(
                    emu, args.compare_clinics, pool="threads", concurrency=32,
                    per_minute=1_000_000, burst=1_000_000, label="per-clinic", batch_size=1,
                )
            )  # fmt: skip

    unlimited = runs[0]
    repeat_walls = [r["wall_s"] for r in repeats]
    # Concurrency: the LiveKit calls the platform may have in flight (batch calls per worker
    # process x processes), or more if the emulator saw more at once.
    concurrency = max(args.in_flight * args.processes, unlimited["peak_in_flight_total"])
    latency_bound = n * 2 * LATENCY_MS / 1000 / concurrency
    results: dict[str, Any] = {
        "clinics": n,
        "latency_ms": LATENCY_MS,
        "worker": {
            "pool": args.pool,
            "concurrency": args.concurrency,
            "processes": args.processes,
            "batch_in_flight": args.in_flight,
            "batch_size": args.batch_size,
        },
        "upstream_concurrency": concurrency,
        "baseline_sequential_s": base_s,
        "wall_s": unlimited["wall_s"],
        "wall_s_of_each_repeat": repeat_walls,
        "ratio_to_baseline": base_s / unlimited["wall_s"],
        "latency_bound_s": latency_bound,
        "ratio_to_latency_bound": unlimited["wall_s"] / latency_bound,
        "calls_per_clinic": unlimited["calls_per_clinic"],
        "worker_peak_rss_mb": unlimited["worker_peak_rss_mb"],
    }
    limited = next((r for r in runs if r["label"] == "rate-limited"), None)
    if limited:
        rate_bound = n * 2 / (1000 / 60)
        results.update(
            rate_limited_wall_s=limited["wall_s"],
            rate_bound_s=rate_bound,
            ratio_to_rate_bound=limited["wall_s"] / rate_bound,
            status_429=limited["status_429"],
            rate_limited_max_calls_in_any_60s=limited["max_calls_in_any_60s"],
            rate_limited_calls_per_clinic=limited["calls_per_clinic"],
        )
    compare = next((r for r in runs if r["label"] == "per-clinic"), None)
    if compare:
        results.update(
            per_clinic_clinics=compare["clinics"],
            per_clinic_wall_s=compare["wall_s"],
            batching_speedup=compare["wall_s"] / unlimited["wall_s"]
            if compare["clinics"] == n
            else None,
            per_clinic_worker_peak_rss_mb=compare["worker_peak_rss_mb"],
        )
    results["targets"] = {
        "ratio_to_baseline_min": 20,
        "ratio_to_latency_bound_max": 1.3,
        "calls_per_clinic_max": 2.2,
        "ratio_to_rate_bound_max": 1.1,
        "status_429": 0,
    }
    results["runs"] = [{k: v for k, v in r.items() if k != "converged_s"} for r in runs]
    common.write_results("bulk", results)
    _plot(runs, base_s, n, latency_bound)


def scale(sizes: list[int], args: argparse.Namespace) -> None:
    """The recommended worker at each size, limiter out of the way: wall time, worker CPU per
    clinic (every worker process) and peak RSS. Target: CPU per clinic at the largest size
    within 1.1x of the smallest's, RSS flat."""
    runs = []
    with common.emulator(["--request-log-size", str(max(100_000, 4 * max(sizes)))]) as emu:
        common.setup_django(emu.url)
        common.warm_publisher()
        for n in sizes:
            run = platform_run(
                emu, n, pool=args.pool, concurrency=args.concurrency, per_minute=1_000_000,
                burst=1_000_000, label=f"scale-{n}", processes=args.processes,
                in_flight=args.in_flight, batch_size=args.batch_size,
            )  # fmt: skip
            runs.append(
                {
                    "clinics": n,
                    "wall_s": run["wall_s"],
                    "wall_ms_per_clinic": run["wall_s"] * 1000 / n,
                    "workers_cpu_s": run["workers_cpu_s"],
                    "worker_cpu_ms_per_clinic": run["workers_cpu_s"] * 1000 / n,
                    "workers_peak_rss_mb": run["workers_peak_rss_mb"],
                    "calls_per_clinic": run["calls_per_clinic"],
                    "machine_busy": run["machine_busy"],
                }
            )
    first, last = runs[0], runs[-1]
    common.write_results(
        "bulk-scale",
        {
            "sizes": sizes,
            "runs": runs,
            "cpu_per_clinic_ratio": last["worker_cpu_ms_per_clinic"]
            / first["worker_cpu_ms_per_clinic"],
            "wall_per_clinic_ratio": last["wall_ms_per_clinic"] / first["wall_ms_per_clinic"],
            "rss_ratio": last["workers_peak_rss_mb"] / first["workers_peak_rss_mb"],
            "targets": {"cpu_per_clinic_ratio_max": 1.1, "rss": "flat"},
        },
    )


# (processes, threads per process, batch calls in flight per process)
SWEEP = [(1, 32, 32), (2, 16, 16), (2, 4, 16), (2, 4, 14), (2, 4, 12), (2, 4, 20)]


def sweep(n: int, batch_size: int, repeat: int) -> None:
    """The unlimited run under several worker settings, against one baseline."""
    with common.emulator(["--request-log-size", str(max(100_000, 4 * n))]) as emu:
        common.setup_django(emu.url)
        emu.control.reset()
        emu.control.add_faults([{"method": "*", "action": "latency", "latency_ms": LATENCY_MS}])
        base_s = baseline(emu.url, [{"slug": f"baseline-{i}"} for i in range(n)])
        rows = []
        for processes, threads, in_flight in SWEEP:
            each = [
                platform_run(
                    emu, n, pool="threads", concurrency=threads, per_minute=1_000_000,
                    burst=1_000_000, label=f"{processes} x -c {threads}, {in_flight} in flight",
                    processes=processes, in_flight=in_flight, batch_size=batch_size,
                )
                for _ in range(repeat)
            ]  # fmt: skip
            run = sorted(each, key=lambda r: r["wall_s"])[len(each) // 2]
            concurrency = max(in_flight * processes, run["peak_in_flight_total"])
            bound = n * 2 * LATENCY_MS / 1000 / concurrency
            rows.append(
                {
                    "processes": processes,
                    "threads": threads,
                    "in_flight": in_flight,
                    "concurrency": concurrency,
                    "wall_s": run["wall_s"],
                    "wall_s_of_each_repeat": [r["wall_s"] for r in each],
                    "ratio_to_baseline": base_s / run["wall_s"],
                    "latency_bound_s": bound,
                    "ratio_to_latency_bound": run["wall_s"] / bound,
                    "mean_in_flight": run["mean_in_flight"],
                    "first_call_s": run["first_call_s"],
                    "worker_cpu_s": run["worker_cpu_s"],
                    "machine_busy": run["machine_busy"],
                }
            )
    common.write_results(
        "bulk-sweep",
        {"clinics": n, "latency_ms": LATENCY_MS, "baseline_sequential_s": base_s, "rows": rows},
    )
    plt = common.pyplot()
    fig, ax = plt.subplots(figsize=(9, 4))
    labels = [f"{r['processes']}x c{r['threads']}\n{r['in_flight']} in flight" for r in rows]
    ax.bar(labels, [r["ratio_to_latency_bound"] for r in rows], color="tab:blue")
    ax.axhline(1.3, color="black", linestyle=":", label="target: <= 1.3 x the latency bound")
    for i, r in enumerate(rows):
        ax.text(i, r["ratio_to_latency_bound"] + 0.02, f"{r['wall_s']:.1f} s\n"
                f"{r['ratio_to_baseline']:.0f}x", ha="center", fontsize=7)  # fmt: skip
    ax.set_ylabel("wall / latency bound")
    ax.set_title(f"Bulk onboarding, {n} clinics at +{LATENCY_MS} ms: worker settings")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(common.plot_path("bulk-sweep"), dpi=110)


def _plot(runs: list[dict[str, Any]], base_s: float, n: int, latency_bound: float) -> None:
    plt = common.pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, log in zip(axes, (False, True), strict=True):
        for run in runs:
            xs = run["converged_s"]
            how = (f"{run['processes']} x {run['pool']} -c {run['concurrency']}, batches of "
                   f"{run['batch_size']}, {run['batch_in_flight']} in flight")  # fmt: skip
            ax.plot(xs, range(1, len(xs) + 1),
                    label=f"{run['label']} ({how}): {run['wall_s']:.1f} s")  # fmt: skip
        ax.plot([0, base_s], [0, n], linestyle="--", color="grey",
                label=f"sequential baseline: {base_s:.1f} s")  # fmt: skip
        ax.axvline(latency_bound, color="black", linestyle=":", linewidth=0.8,
                   label=f"latency bound {latency_bound:.2f} s")  # fmt: skip
        ax.set_xlabel("seconds since go-live" + (" (log)" if log else ""))
        ax.set_ylabel("clinics active")
        if log:
            ax.set_xscale("log")
    axes[0].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"Bulk onboarding: {n} clinics, every LiveKit call +{LATENCY_MS} ms")
    fig.tight_layout()
    fig.savefig(common.plot_path("bulk"), dpi=110)


if __name__ == "__main__":
    main()
