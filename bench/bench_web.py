"""Web: dashboard, provisioning status API and admin changelist at 10,000 clinics.

    python -m bench.bench_web [--clinics 10000] [--duration 8] [--connections 4]

Queries per request, in process (Django's test client, CaptureQueriesContext) with 100 and
with 10,000 clinics in the database: they must be equal (constant in N). Latency under load:
gunicorn (2 sync workers, production settings) on loopback, wrk pinned to the second core
(`taskset -c 1`), each URL for `--duration` seconds with `--connections` connections; the
baseline in the same run is /healthz (no database), so ratios say what each page costs
beyond the framework. The web process tree's peak RSS is sampled during the load.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import time
from typing import Any

from bench import common

LUA = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "JSON {\\"p50\\": %f, \\"p95\\": %f, \\"p99\\": %f, \\"max\\": %f, \\"requests\\": %d, "
    .. "\\"duration_s\\": %f, \\"errors\\": %d, \\"non_2xx_3xx\\": %d}\\n",
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, summary.requests,
    summary.duration / 1e6, e.connect + e.read + e.write + e.timeout, e.status))
end
"""


def _sessions(clinic: dict[str, Any]) -> dict[str, Any]:
    """Clients and credentials: the clinic owner (session, token) and a staff superuser."""
    from django.test import Client

    from tenants.models import User

    owner = User.objects.get(pk=clinic["user_id"])
    staff, _ = User.objects.get_or_create(
        email="staff@bench.example", defaults={"is_staff": True, "is_superuser": True}
    )
    owner_client, staff_client = Client(), Client()
    owner_client.force_login(owner)
    staff_client.force_login(staff)
    return {
        "owner": owner_client,
        "staff": staff_client,
        "owner_cookie": f"sessionid={owner_client.cookies['sessionid'].value}",
        "staff_cookie": f"sessionid={staff_client.cookies['sessionid'].value}",
        "token": clinic["token"],
    }


def _urls(clinic: dict[str, Any], s: dict[str, Any]) -> dict[str, tuple[str, str, Any]]:
    """name -> (path, header for wrk, test client with its extra headers)."""
    return {
        "dashboard": (f"/clinics/{clinic['slug']}/", f"Cookie: {s['owner_cookie']}", s["owner"]),
        "provisioning_api": (
            f"/api/v1/clinics/{clinic['slug']}/provisioning/",
            f"Authorization: Token {s['token']}",
            None,
        ),
        "admin_changelist": ("/admin/tenants/clinic/", f"Cookie: {s['staff_cookie']}", s["staff"]),
    }


def count_queries(clinic: dict[str, Any]) -> dict[str, int]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    s = _sessions(clinic)
    counts = {}
    for name, (path, header, client) in _urls(clinic, s).items():
        if client is None:
            client = Client(HTTP_AUTHORIZATION=header.split(": ", 1)[1])
        client.get(path)  # warm caches (content types, templates)
        with CaptureQueriesContext(connection) as q:
            resp = client.get(path)
        if resp.status_code != 200:
            raise RuntimeError(f"{path} answered {resp.status_code}")
        counts[name] = len(q.captured_queries)
    return counts


def wrk(base: str, path: str, header: str, duration: int, connections: int) -> dict[str, float]:
    script = common.VAR / "wrk-report.lua"
    script.write_text(LUA)
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "10s",
           "-s", str(script)]  # fmt: skip
    if header:
        cmd += ["-H", header]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", "1", *cmd]
    out = subprocess.run(
        [*cmd, base + path], capture_output=True, text=True, timeout=duration + 30, check=True
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("JSON "))
    result: dict[str, float] = json.loads(line[5:])
    result["rps"] = result["requests"] / result["duration_s"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clinics", type=int, default=10_000)
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--web-workers", type=int, default=2)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install -y wrk")

    common.setup_django()
    common.flush()
    small = common.seed_clinics(args.small, state="live", tokens=True)
    queries_small = count_queries(small[0])
    common.flush()
    began = time.perf_counter()
    large = common.seed_clinics(args.clinics, state="live", tokens=True)
    seed_s = time.perf_counter() - began
    queries_large = count_queries(large[0])
    probe = large[len(large) // 2]
    sessions = _sessions(probe)
    urls = _urls(probe, sessions)

    web, base = common.start_web(common.platform_env(), workers=args.web_workers)
    import requests

    load: dict[str, Any] = {}
    try:
        for path, header, _ in urls.values():
            key, value = header.split(": ", 1)
            status = requests.get(base + path, headers={key: value}, timeout=10).status_code
            if status != 200:
                raise RuntimeError(f"{path} answered {status} over HTTP")
        with common.RssSampler(web.pid) as rss:
            load["healthz"] = wrk(base, "/healthz", "", args.duration, args.connections)
            for name, (path, header, _) in urls.items():
                load[name] = wrk(base, path, header, args.duration, args.connections)
    finally:
        web.stop()

    base_p50 = load["healthz"]["p50"]
    results: dict[str, Any] = {
        "clinics": args.clinics,
        "seed_s": seed_s,
        "gunicorn": {"workers": args.web_workers, "worker_class": "sync"},
        "wrk": {"connections": args.connections, "duration_s": args.duration},
        "latency_ms": load,
        "ratio_p50_to_healthz": {k: v["p50"] / base_p50 for k, v in load.items()},
        "queries_per_request": {
            name: {f"n{args.small}": queries_small[name], f"n{args.clinics}": queries_large[name]}
            for name in queries_small
        },
        "queries_constant_in_n": queries_small == queries_large,
        "web_peak_rss_mb": {"tree": rss.peak_total, "master": rss.peak_own},
    }
    common.write_results("web", results)
    _plot(results)


def _plot(r: dict[str, Any]) -> None:
    plt = common.pyplot()
    names = list(r["latency_ms"])
    fig, ax = plt.subplots(figsize=(8, 3.8))
    xs = range(len(names))
    ax.bar([x - 0.2 for x in xs], [r["latency_ms"][n]["p50"] for n in names], 0.4, label="p50")
    ax.bar([x + 0.2 for x in xs], [r["latency_ms"][n]["p95"] for n in names], 0.4, label="p95")
    labels = []
    for n in names:
        q = r["queries_per_request"].get(n)
        labels.append(n + (f"\n{list(q.values())[-1]} queries" if q else "\n(baseline)"))
    ax.set_xticks(list(xs), labels, fontsize=8)
    ax.set_ylabel("milliseconds")
    ax.set_title(
        f"Web at {r['clinics']:,} clinics: gunicorn {r['gunicorn']['workers']} sync workers, "
        f"wrk {r['wrk']['connections']} connections"
    )
    ax.legend()
    fig.tight_layout()
    fig.savefig(common.plot_path("web"), dpi=110)


if __name__ == "__main__":
    main()
