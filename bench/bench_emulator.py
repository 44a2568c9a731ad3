"""Emulator benchmark: create+list throughput from livekit-api clients, and list-by-number cost
and memory at 100,000 stored trunks. Ratios are against baselines measured in the same run.

    python bench/bench_emulator.py [--trunks 100000] [--workers 1] [--concurrency 64]

Writes bench/results/emulator-<timestamp>.json. No assertions: it reports figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from livekit import api  # noqa: E402

from emulators.livekit.testing import EmulatorProcess  # noqa: E402

SECRET = "bench-secret-0123456789-0123456789-abcdef"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _worker(url: str, mode: str, start: int, count: int, concurrency: int) -> int:
    async with api.LiveKitAPI(url, "devkey", SECRET) as lk:
        next_index = start
        done = 0

        async def one() -> None:
            nonlocal next_index, done
            while next_index < start + count:
                i = next_index
                next_index += 1
                number = f"+1{i:010d}"
                if mode == "noop":
                    await lk.sip.list_outbound_trunk(api.ListSIPOutboundTrunkRequest())
                    done += 1
                elif mode == "seed":
                    await lk.sip.create_inbound_trunk(
                        api.CreateSIPInboundTrunkRequest(
                            trunk=api.SIPInboundTrunkInfo(numbers=[number])
                        )
                    )
                    done += 1
                else:  # create + list-by-number
                    await lk.sip.create_inbound_trunk(
                        api.CreateSIPInboundTrunkRequest(
                            trunk=api.SIPInboundTrunkInfo(numbers=[number])
                        )
                    )
                    await lk.sip.list_inbound_trunk(
                        api.ListSIPInboundTrunkRequest(numbers=[number])
                    )
                    done += 2

        await asyncio.gather(*(one() for _ in range(concurrency)))
        return done


def _run_worker(args: tuple[str, str, int, int, int]) -> int:
    return asyncio.run(_worker(*args))


def load(url: str, mode: str, start: int, total: int, workers: int, concurrency: int) -> float:
    """Calls per second over ``workers`` client processes."""
    share = total // workers
    jobs = [(url, mode, start + w * share, share, concurrency) for w in range(workers)]
    began = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        calls = sum(pool.map(_run_worker, jobs))
    return calls / (time.perf_counter() - began)


async def list_latency(url: str, numbers: list[str]) -> float:
    """Median seconds of one list-by-number call."""
    async with api.LiveKitAPI(url, "devkey", SECRET) as lk:
        samples = []
        for number in numbers:
            began = time.perf_counter()
            await lk.sip.list_inbound_trunk(api.ListSIPInboundTrunkRequest(numbers=[number]))
            samples.append(time.perf_counter() - began)
        return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trunks", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--ops", type=int, default=8_000, help="calls in each throughput phase")
    args = parser.parse_args()
    results: dict[str, float | int] = {}
    extra = ["--request-log-size", "1000"]
    with EmulatorProcess(api_secret=SECRET, extra_args=extra) as emu:
        results["rss_empty_mb"] = rss_mb(emu.pid)
        results["noop_calls_per_s"] = load(
            emu.url, "noop", 0, args.ops, args.workers, args.concurrency
        )
        results["create_list_calls_per_s"] = load(
            emu.url, "mixed", 0, args.ops // 2, args.workers, args.concurrency
        )
        stored = emu.control.healthz()["inbound_trunks"]
        probes = [f"+1{i:010d}" for i in range(0, stored, max(1, stored // 200))][:200]
        results["stored_small"] = stored
        results["list_by_number_small_s"] = asyncio.run(list_latency(emu.url, probes))
        seeded_from = stored
        began = time.perf_counter()
        load(
            emu.url, "seed", seeded_from, args.trunks - seeded_from, args.workers, args.concurrency
        )
        results["seed_creates_per_s"] = (args.trunks - seeded_from) / (time.perf_counter() - began)
        results["stored_large"] = emu.control.healthz()["inbound_trunks"]
        results["list_by_number_large_s"] = asyncio.run(list_latency(emu.url, probes))
        results["rss_large_mb"] = rss_mb(emu.pid)
    results["throughput_ratio_vs_noop"] = (
        results["create_list_calls_per_s"] / results["noop_calls_per_s"]
    )
    results["list_ratio_large_vs_small"] = (
        results["list_by_number_large_s"] / results["list_by_number_small_s"]
    )
    out = ROOT / "bench" / "results" / f"emulator-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    for key, value in results.items():
        print(f"{key:32} {value:,.4f}" if isinstance(value, float) else f"{key:32} {value:,}")
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
