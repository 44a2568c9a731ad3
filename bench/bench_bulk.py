"""Bulk onboarding: N clinics go live at once, LiveKit answering every call after 50 ms.

    python -m bench.bench_bulk [--clinics 1000] [--pool threads] [--concurrency 32]

Baseline, in the same run and against the same emulator: a plain sequential script doing
what LiveKit's docs show by hand (livekit-api: create the trunk, create the rule, for each
clinic). Then the platform: the clinics go live through the service in one transaction, so
every reconcile is enqueued at commit, and a real `celery worker` brings them all to active.
Wall time runs from the commit to the last converged_at. Two platform runs:

- rate limiter out of the way (1,000,000/min): wall vs baseline (target >= 20x) and vs the
  latency bound N x 2 x 50 ms / concurrency (target <= 1.3);
- rate limiter at LiveKit's documented 1,000/min: wall vs the rate bound 2N / (1,000/min)
  (target <= 1.1), and 429s received (target 0).

Upstream calls per clinic come from the emulator's request log (target <= 2.2); the worker's
peak RSS is sampled throughout. A smaller comparison run uses the prefork pool with -c 2
(the previous default) to show what the pool choice is worth.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from typing import Any

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
) -> dict[str, Any]:
    from django.db import transaction

    from telephony import services
    from telephony.models import Provisioning
    from tenants.models import Clinic

    common.flush()
    common.purge_queue()
    emu.control.clear_faults()
    emu.control.reset()
    emu.control.add_faults([{"method": "*", "action": "latency", "latency_ms": LATENCY_MS}])
    seeded = common.seed_clinics(n)
    env = common.platform_env(
        emu.url,
        LIVEKIT_RATE_LIMIT_PER_MINUTE=str(per_minute),
        LIVEKIT_RATE_LIMIT_BURST=str(burst),
    )
    workers = [
        common.start_worker(env, pool=pool, concurrency=concurrency, name=f"worker-{label}-{i}")
        for i in range(processes)
    ]
    clinics = list(Clinic.objects.filter(pk__in=[c["id"] for c in seeded]))
    try:
        with common.RssSampler(workers[0].pid) as rss:
            with transaction.atomic():
                for clinic in clinics:
                    services.clinic_go_live(clinic=clinic, actor=None)
                committing = time.time()
            published = time.time()
            deadline = time.monotonic() + max(120.0, 4 * n * 2 / (per_minute / 60))
            done = 0
            while time.monotonic() < deadline:
                done = Provisioning.objects.filter(
                    state="active", observed_generation=1, generation=1
                ).count()
                if done == n:
                    break
                time.sleep(0.1)
    finally:
        for worker in workers:
            worker.stop()
    if done != n:
        raise RuntimeError(f"{label}: only {done} of {n} clinics went live before the deadline")
    converged = sorted(
        t.timestamp() - committing
        for t in Provisioning.objects.values_list("converged_at", flat=True)
    )
    log = emu.control.requests_summary()
    methods = Counter(r["method"] for r in log["requests"])
    statuses = Counter(r["status"] for r in log["requests"])
    starts = sorted(r["started_at"] for r in log["requests"])
    attempts = Provisioning.objects.filter(attempts__gt=0).count()
    return {
        "label": label,
        "clinics": n,
        "pool": pool,
        "concurrency": concurrency,
        "processes": processes,
        "rate_limit_per_minute": per_minute,
        "wall_s": converged[-1],
        "publish_s": published - committing,
        "upstream_calls": sum(methods.values()),
        "upstream_calls_by_method": dict(methods),
        "calls_per_clinic": sum(methods.values()) / n,
        "status_429": statuses.get(429, 0),
        "non_200": sum(v for k, v in statuses.items() if k != 200),
        "max_calls_in_any_60s": _max_in_window(starts, 60.0),
        "peak_in_flight": log.get("peak_in_flight", {}),
        "clinics_with_retries": attempts,
        "worker_peak_rss_mb": rss.peak_own,
        "worker_tree_peak_rss_mb": rss.peak_total,
        "converged_s": converged,
    }


def _max_in_window(times: list[float], window: float) -> int:
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] < t - window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clinics", type=int, default=1000)
    parser.add_argument("--pool", default="threads")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--processes", type=int, default=1, help="worker processes")
    parser.add_argument("--compare-clinics", type=int, default=200, help="prefork -c 2 run")
    parser.add_argument("--skip-rate-limited", action="store_true")
    args = parser.parse_args()
    n = args.clinics

    with common.emulator(["--request-log-size", str(max(100_000, 4 * n))]) as emu:
        common.setup_django(emu.url)
        emu.control.reset()
        emu.control.add_faults([{"method": "*", "action": "latency", "latency_ms": LATENCY_MS}])
        base_s = baseline(emu.url, [{"slug": f"baseline-{i}"} for i in range(n)])
        runs = [
            platform_run(
                emu, n, pool=args.pool, concurrency=args.concurrency,
                per_minute=1_000_000, burst=1_000_000, label="unlimited",
                processes=args.processes,
            )
        ]  # fmt: skip
        if not args.skip_rate_limited:
            runs.append(
                platform_run(
                    emu, n, pool=args.pool, concurrency=args.concurrency,
                    per_minute=1000, burst=20, label="rate-limited", processes=args.processes,
                )
            )  # fmt: skip
        if args.compare_clinics:
            runs.append(
                platform_run(
                    emu, args.compare_clinics, pool="prefork", concurrency=2,
                    per_minute=1_000_000, burst=1_000_000, label="prefork-c2",
                )
            )  # fmt: skip

    unlimited = runs[0]
    latency_bound = n * 2 * LATENCY_MS / 1000 / (args.concurrency * args.processes)
    results: dict[str, Any] = {
        "clinics": n,
        "latency_ms": LATENCY_MS,
        "worker": {"pool": args.pool, "concurrency": args.concurrency, "processes": args.processes},
        "baseline_sequential_s": base_s,
        "wall_s": unlimited["wall_s"],
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
    compare = next((r for r in runs if r["label"] == "prefork-c2"), None)
    if compare:
        m = compare["clinics"]
        results.update(
            prefork_c2_clinics=m,
            prefork_c2_wall_s=compare["wall_s"],
            prefork_c2_ratio_to_latency_bound=compare["wall_s"] / (m * 2 * LATENCY_MS / 1000 / 2),
            prefork_c2_worker_tree_peak_rss_mb=compare["worker_tree_peak_rss_mb"],
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


def _plot(runs: list[dict[str, Any]], base_s: float, n: int, latency_bound: float) -> None:
    plt = common.pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, log in zip(axes, (False, True), strict=True):
        for run in runs:
            xs = run["converged_s"]
            ax.plot(xs, range(1, len(xs) + 1), label=f"{run['label']} ({run['pool']} -c "
                    f"{run['concurrency']}): {run['wall_s']:.1f} s")  # fmt: skip
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
