"""Bulk onboarding across three LiveKit projects, each rate-limited upstream (issue 17).

    python -m bench.bench_projects [--clinics 3000] [--baseline-clinics 1000]
                                   [--per-minute 1000] [--burst 10] [--upstream-burst 20]
                                   [--processes 2] [--concurrency 4] [--in-flight 14]
                                   [--batch-size 50]

Three emulator processes are three LiveKit projects: `default` (the LIVEKIT_* settings)
and two registered ones, `beta` and `gamma`, each with an API key of its own. Each emulator
enforces LiveKit's documented limit itself (`--rate-limit-per-minute`, a token bucket of
`--upstream-burst`): a call beyond it is answered 429 and stores nothing, so "0 upstream
429s" is a measurement, not a tautology. The platform's per-project limiter is set to the
same rate, with a smaller burst (`--burst`): a call reaches LiveKit a little after the
limiter let it go, and that jitter must fit in the difference (decisions/0137). Every
LiveKit call takes 50 ms.

Two runs on the same emulators and workers' settings:

- three projects: N clinics placed by the platform's own placement (capacity weight, all
  equal), taken live in one transaction, brought to active by the recommended worker;
  wall time from the commit to the last converged_at, against the combined rate bound
  (calls needed, 2 a clinic, / (3 x the rate));
- one project (the baseline, same run): N/3 clinics in `default` alone, against its rate
  bound. Three projects should go live 3x as fast per clinic.

Reported per project: clinics placed, upstream calls, 429s, the most calls in any 60 s, and
whether its emulator holds exactly its clinics' trunks and rules.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench import common

LATENCY_MS = 50
# name, region, API key, API secret (the default project's are the bench's LIVEKIT_*).
PROJECTS = (
    ("default", "eu", common.LIVEKIT_KEY, common.LIVEKIT_SECRET),
    ("beta", "eu", "benchkeybeta", "bench-beta-secret-0123456789-abcdef0123"),
    ("gamma", "us", "benchkeygamma", "bench-gamma-secret-0123456789-abcdef012"),
)


def start_emulators(args: argparse.Namespace, log_size: int) -> list[Any]:
    from emulators.livekit.testing import EmulatorProcess

    limit = ["--rate-limit-per-minute", str(args.per_minute)]
    limit += ["--rate-limit-burst", str(args.upstream_burst)]
    emus = []
    try:
        for _name, _region, key, secret in PROJECTS:
            emus.append(
                EmulatorProcess(
                    api_key=key,
                    api_secret=secret,
                    extra_args=[*limit, "--request-log-size", str(log_size)],
                ).start()
            )
    except BaseException:
        for emu in emus:
            emu.stop()
        raise
    return emus


def register(emus: list[Any], count: int) -> list[Any]:
    """The first `count` projects as rows: the default one (region set), then the others."""
    from telephony.models import LiveKitProject
    from telephony.projects import default_project

    default = default_project()
    default.region = PROJECTS[0][1]
    default.save(update_fields=["region"])
    rows = [default]
    for (name, region, key, secret), emu in list(zip(PROJECTS, emus, strict=True))[1:count]:
        rows.append(
            LiveKitProject.objects.create(
                name=name,
                region=region,
                url=emu.url,
                api_key=key,
                api_secret=secret,
                sip_uri=f"sip:{name}.bench.example",
            )
        )
    return rows


def place_all(clinic_ids: list[str]) -> Counter[str]:
    """Each seeded clinic placed by the platform's placement, in order, as signup does."""
    from telephony.models import LiveKitProject
    from telephony.projects import place
    from tenants.models import Clinic

    # Seeded clinics have no project, which counts as the default one's: park them in a
    # closed project (not a candidate, not counted) until each is placed.
    parked = LiveKitProject.objects.create(
        name="bench-parking", url="http://127.0.0.1:1", api_key="x", api_secret="x" * 32,
        sip_uri="sip:none.example", accepting_new_clinics=False,
    )  # fmt: skip
    Clinic.objects.filter(pk__in=clinic_ids).update(livekit_project=parked)
    placed: Counter[str] = Counter()
    for clinic_id in clinic_ids:
        project = place()
        Clinic.objects.filter(pk=clinic_id).update(livekit_project=project)
        placed[project.name] += 1
    parked.delete()
    return placed


def run(emus: list[Any], n: int, count: int, args: argparse.Namespace, label: str) -> dict:
    """N clinics over the first `count` projects, gone live at once; the figures."""
    import psutil
    from django.db import transaction

    from telephony import services
    from telephony.models import PhoneNumber, Provisioning
    from tenants.models import Clinic

    common.flush()
    common.purge_queue()
    common.fresh_emulators(emus, LATENCY_MS)
    projects = register(emus, count)
    seeded = common.seed_clinics(n)
    ids = [c["id"] for c in seeded]
    placed = place_all(ids)
    workers = common.start_batch_workers(
        emus[0].url, label=label, processes=args.processes, concurrency=args.concurrency,
        per_minute=args.per_minute, burst=args.burst, in_flight=args.in_flight,
        batch_size=args.batch_size,
    )  # fmt: skip
    clinics = list(Clinic.objects.filter(pk__in=ids))
    common.warm_publisher()
    bound = 2 * n / (count * args.per_minute / 60)
    try:
        machine = psutil.cpu_times()
        with transaction.atomic():
            for clinic in clinics:
                services.clinic_go_live(clinic=clinic, actor=None)
            committing = time.time()
        done = common.wait_live(n, 3 * bound + 120, 0.2)
        machine_after = psutil.cpu_times()
    finally:
        for worker in workers:
            worker.stop()
    converged = common.converged_after(committing, done, n, label)
    numbers: dict[str, set[str]] = {}
    for name, e164 in PhoneNumber.objects.values_list("clinic__livekit_project__name", "e164"):
        numbers.setdefault(name, set()).add(e164)
    per_project = {}
    for project, emu in zip(projects, emus, strict=False):
        per_project[project.name] = _upstream(emu, placed[project.name], numbers, project.name)
        per_project[project.name]["region"] = project.region
    for emu in emus[count:]:  # the projects not in this run saw nothing
        assert not emu.control.requests_summary()["requests"], "an unused project was called"
    calls = sum(p["calls"] for p in per_project.values())
    return {
        "label": label,
        "clinics": n,
        "projects": count,
        "wall_s": converged[-1],
        "first_active_s": converged[0],
        "rate_bound_s": bound,
        "ratio_to_rate_bound": converged[-1] / bound,
        # The bound with the calls actually made (more than 2 a clinic if any were retried).
        "calls_bound_s": calls / (count * args.per_minute / 60),
        "clinics_per_s": n / converged[-1],
        "upstream_calls": calls,
        "calls_per_clinic": calls / n,
        "status_429": sum(p["status_429"] for p in per_project.values()),
        "clinics_with_retries": Provisioning.objects.filter(attempts__gt=0).count(),
        "machine_busy": common.machine_busy(machine, machine_after),
        "per_project": per_project,
        "converged_s": converged,
    }


def _upstream(emu: Any, clinics: int, numbers: dict[str, set[str]], name: str) -> dict:
    log = emu.control.requests_summary()["requests"]
    statuses = Counter(r["status"] for r in log)
    starts = sorted(r["started_at"] for r in log)
    state = emu.control.state()
    held = {t["numbers"][0] for t in state["inbound_trunks"]}
    return {
        "clinics": clinics,
        "calls": len(log),
        "calls_by_method": dict(Counter(r["method"] for r in log)),
        "calls_per_clinic": len(log) / clinics if clinics else None,
        "status_429": statuses.get(429, 0),
        "non_200": sum(v for k, v in statuses.items() if k != 200),
        "max_calls_in_any_60s": common.max_in_window(starts, 60.0) if starts else 0,
        "busiest_second": common.max_in_window(starts, 1.0) if starts else 0,
        "trunks": len(state["inbound_trunks"]),
        "rules": len(state["dispatch_rules"]),
        # Exactly its own clinics' objects: one trunk per clinic of this project, each with
        # that clinic's number, none of another project's, and one rule per trunk.
        "holds_exactly_its_clinics": held == numbers.get(name, set())
        and len(state["inbound_trunks"]) == clinics == len(state["dispatch_rules"]),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clinics", type=int, default=3000, help="over three projects")
    parser.add_argument(
        "--baseline-clinics", type=int, default=0, help="in one project (default: clinics/3)"
    )
    parser.add_argument("--per-minute", type=float, default=1000.0, help="each project's limit")
    parser.add_argument(
        "--burst", type=float, default=10.0, help="the platform limiter's (below upstream's)"
    )
    parser.add_argument(
        "--upstream-burst", type=float, default=20.0, help="the emulators' (LiveKit's)"
    )
    parser.add_argument("--processes", type=int, default=2, help="worker processes")
    parser.add_argument("--concurrency", type=int, default=4, help="celery worker -c")
    parser.add_argument("--in-flight", type=int, default=14, help="batch calls per process")
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--results-dir", type=Path, default=None, help="default: bench/results")
    parser.add_argument("--no-plot", action="store_true")
    args = parser.parse_args(argv)
    n = args.clinics
    n1 = args.baseline_clinics or n // 3
    emus = start_emulators(args, max(100_000, 4 * n))
    try:
        common.setup_django(emus[0].url)
        three = run(emus, n, 3, args, "three-projects")
        one = run(emus, n1, 1, args, "one-project")
    finally:
        for emu in emus:
            emu.stop()
    results: dict[str, Any] = {
        "clinics": n,
        "baseline_clinics": n1,
        "latency_ms": LATENCY_MS,
        "per_minute_each": args.per_minute,
        "platform_burst": args.burst,
        "upstream_burst": args.upstream_burst,
        "worker": {
            "processes": args.processes,
            "pool": "threads",
            "concurrency": args.concurrency,
            "batch_in_flight": args.in_flight,
            "batch_size": args.batch_size,
        },
        "wall_s": three["wall_s"],
        "combined_rate_bound_s": three["rate_bound_s"],
        "ratio_to_combined_rate_bound": three["ratio_to_rate_bound"],
        "one_project_wall_s": one["wall_s"],
        "one_project_rate_bound_s": one["rate_bound_s"],
        "one_project_ratio_to_rate_bound": one["ratio_to_rate_bound"],
        # Clinics a second, three projects over one: 3 when each project runs at its limit.
        "speedup_over_one_project": three["clinics_per_s"] / one["clinics_per_s"],
        "status_429": three["status_429"] + one["status_429"],
        "status_429_per_project": {k: v["status_429"] for k, v in three["per_project"].items()},
        "calls_per_clinic": three["calls_per_clinic"],
        "clinics_per_project": {k: v["clinics"] for k, v in three["per_project"].items()},
        "each_project_holds_exactly_its_clinics": all(
            p["holds_exactly_its_clinics"]
            for run_ in (three, one)
            for p in run_["per_project"].values()
        ),
        "targets": {
            "ratio_to_combined_rate_bound_max": 1.1,
            "speedup_over_one_project_min": 3 / 1.1,
            "status_429": 0,
        },
        "runs": [{k: v for k, v in r.items() if k != "converged_s"} for r in (three, one)],
    }
    common.write_results("projects", results, directory=args.results_dir)
    if not args.no_plot:
        _plot(three, one, args.per_minute)
    return results


def _plot(three: dict[str, Any], one: dict[str, Any], per_minute: float) -> None:
    plt = common.pyplot()
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for run_ in (three, one):
        xs = run_["converged_s"]
        ax.plot(xs, range(1, len(xs) + 1), label=f"{run_['label']}: {run_['clinics']} clinics "
                f"in {run_['wall_s']:.1f} s ({run_['status_429']} x 429)")  # fmt: skip
        bound, n = run_["rate_bound_s"], run_["clinics"]
        ax.plot([0, bound], [0, n], linestyle=":", color="grey", linewidth=0.8)
    ax.set_xlabel("seconds since go-live")
    ax.set_ylabel("clinics active")
    ax.set_title(f"Bulk onboarding over LiveKit projects limited to {per_minute:.0f} requests/min "
                 "each (dotted: the rate bounds)", fontsize=9)  # fmt: skip
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(common.plot_path("projects"), dpi=110)


if __name__ == "__main__":
    main()
