"""`python -m bench [NAME ...]` (`make bench`): run the benchmarks, each bounded in time.

Each benchmark runs in a subprocess of its own with a time budget and writes
bench/results/<name>-<timestamp>.json plus bench/results/<name>.png (the latest plot). With no
names, all of them run, in the order below. Extra arguments after `--` go to every named
benchmark (e.g. `python -m bench bulk -- --clinics 300`).
"""

from __future__ import annotations

import subprocess
import sys
import time

# name -> (module, default arguments, time budget in seconds)
BENCHMARKS: dict[str, tuple[str, list[str], int]] = {
    "golive": ("bench.bench_golive", [], 240),
    "bulk": ("bench.bench_bulk", [], 720),
    "drift": ("bench.bench_drift", [], 300),
    "web": ("bench.bench_web", [], 300),
    "webhooks": ("bench.bench_webhooks", [], 600),
    "calls": ("bench.bench_calls", [], 1200),
    "bulk-scale": ("bench.bench_bulk", ["--scale", "1000,10000"], 900),
    "projects": ("bench.bench_projects", [], 900),
    "emulator": ("bench/bench_emulator.py", ["--trunks", "20000"], 240),
}


def main(argv: list[str]) -> int:
    extra: list[str] = []
    if "--" in argv:
        at = argv.index("--")
        argv, extra = argv[:at], argv[at + 1 :]
    names = argv or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
        return 2
    failed, began = [], time.monotonic()
    for name in names:
        target, args, budget = BENCHMARKS[name]
        cmd = [sys.executable, target] if target.endswith(".py") else [sys.executable, "-m", target]
        print(f"=== {name} (budget {budget} s)", flush=True)
        start = time.monotonic()
        try:
            code = subprocess.run([*cmd, *args, *extra], timeout=budget).returncode
        except subprocess.TimeoutExpired:
            code = -1
            print(f"=== {name}: over its {budget} s budget, stopped")
        print(f"=== {name}: exit {code} in {time.monotonic() - start:.0f} s", flush=True)
        if code != 0:
            failed.append(name)
    total = time.monotonic() - began
    print(f"=== all done in {total:.0f} s; failed: {', '.join(failed) or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
