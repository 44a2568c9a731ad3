"""Two versions side by side on a noisy machine: webhooks and pickup 304s, interleaved.

    python -m bench.calls_ab --base /path/to/other/checkout [--rounds 5]

On the shared 2-core development machine one run's floor can differ from the next run's by
2x, so comparing two `bench calls` runs an hour apart compares the machine. This starts two
gunicorn servers as deployed (3 sync workers, production settings) on the same bench
database, one from `--base` (another checkout, e.g. a `git worktree` of main) and one from
this checkout, and alternates short bursts against each (floor, webhooks on 32 connections,
pickup 304s on 16; the order flips every round), so both see the same load over time. It
reports each side's summed rates, their ratios to the side's own floor, and lost and
duplicated calls. The bench database must hold live clinics (run `bench calls` once).
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
from typing import Any

from bench import bench_calls, calls_data, common, loadgen

PHASES = (("floor", 4), ("webhooks", 8), ("c304", 4))


def start(cwd: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    import requests

    port = common.free_port()
    args = [sys.executable, "-m", "gunicorn", "config.wsgi:application",
            "-b", f"127.0.0.1:{port}", "-w", "3", "--log-level", "warning"]  # fmt: skip
    proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc, port
        except requests.RequestException:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise RuntimeError(f"gunicorn from {cwd} did not start")


def burst(port: int, phase: str, secs: int, data: dict[str, Any], seed: int) -> tuple[int, list]:
    host = f"127.0.0.1:{port}"
    plans: list = []
    if phase == "floor":
        streams = bench_calls.closed(
            [loadgen.build_request("GET", "/healthz", host)], "h", 32, phase
        )
    elif phase == "webhooks":
        plans = calls_data.plan_calls(data["live"], 75 * secs + 32, host, ttl_s=3600, seed=seed)
        streams = bench_calls.webhook_streams(plans, 32, 0.0)
    else:
        reqs = bench_calls.config_requests(data["ids"], data["etags"], data["token"], host, True)
        streams = bench_calls.closed(reqs, "c304", 16, phase)
    res = loadgen.run("127.0.0.1", port, streams, secs, 2)
    ok = sum(1 for r in res for s in r.samples if 200 <= s[2] < 400)
    bad = sum(1 for r in res for s in r.samples if not 200 <= s[2] < 400)
    data["errors"] += bad
    if plans:
        data["plans"][port] += plans
        data["results"][port] += res
    return ok, plans


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--base", required=True, help="the other checkout")
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    common.setup_django(**bench_calls.PRIVATE_OK)
    env = common.platform_env(**bench_calls.PRIVATE_OK)
    sides = {"base": start(args.base, env), "this": start(str(common.ROOT), env)}
    live = calls_data.live_clinics()
    ids = [c["id"] for c in live][:2000]
    data: dict[str, Any] = {
        "live": live, "ids": ids, "token": calls_data.agent_token(),
        "etags": calls_data.config_etags(ids), "errors": 0,
        "plans": {port: [] for _, port in sides.values()},
        "results": {port: [] for _, port in sides.values()},
    }  # fmt: skip
    done: dict[str, dict[str, list[float]]] = {s: {ph: [0, 0] for ph, _ in PHASES} for s in sides}
    loads = []
    seed = random.randrange(10**6)
    try:
        for r in range(args.rounds):
            for side in ("base", "this") if r % 2 == 0 else ("this", "base"):
                for phase, secs in PHASES:
                    seed += 1
                    loads.append(os.getloadavg()[0])
                    ok, _ = burst(sides[side][1], phase, secs, data, seed)
                    done[side][phase][0] += ok
                    done[side][phase][1] += secs
                    print(f"round {r} {side:4} {phase:8} {ok / secs:8.1f}/s", flush=True)
        bench_calls.quiesce(30)
        out: dict[str, Any] = {"base": args.base, "rounds": args.rounds, "errors": data["errors"],
                               "loadavg_1m": {"min": min(loads), "max": max(loads)}}  # fmt: skip
        for side, (_, port) in sides.items():
            rates = {ph: n / s for ph, (n, s) in done[side].items()}
            plans, res = data["plans"][port], data["results"][port]
            check = calls_data.check_calls(plans, bench_calls.answered_calls(res, plans))
            out[side] = {
                **rates,
                "webhooks_ratio": rates["webhooks"] / rates["floor"],
                "c304_ratio": rates["c304"] / rates["floor"],
                "check": check,
            }
    finally:
        for proc, _ in sides.values():
            proc.terminate()
    common.write_results("calls-ab", out)


if __name__ == "__main__":
    main()
