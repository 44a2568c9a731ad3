"""Call-time load: LiveKit's webhooks, the agent's config fetches and members' dashboards at
10,000 live clinics with a million calls in the log, on the real stack.

    python -m bench calls [-- --duration 60 --phase-seconds 15 --full --profile]

Stack: gunicorn as deployed (`--workers 3`, sync, production settings), PostgreSQL, Redis,
`celery worker -P threads -c 4` x 2 (the recommended worker), `celery beat`, the LiveKit
emulator holding every clinic's trunk and rule. Load: bench/loadgen.py (generator processes
with closed-loop connections), so the floor is measured the same way as everything else.

Phases, each against the same server:
1. floor: GET /healthz (an empty view behind the same middleware), closed loop;
2. webhooks: LiveKit-signed events for calls in flight on 32 connections (each connection
   one call's events after another: in order, 10 % of calls shuffled, 5 % of events twice),
   `--duration` seconds (60; `--full`: 300, the issue's 5 minutes);
3. config: GET /api/v1/agent/config with an agent token: 200 for every live clinic once (the
   view answers), 200 again and again for 2,000 (the answers kept by ETag), 304 (matching ETag);
4. call log: a clinic's call log page at the heavy clinic (100,000 calls) and a typical one;
5. pickup: webhooks paced at `--pickup-rate` events/s (400, the issue's condition) with one
   config fetch per call picked up (half with the worker's ETag), and nothing else;
6. mixed: webhooks paced at `--rate` events/s (by default half the rate phase 2 sustained,
   so that it measures latency rather than a growing backlog on a small or shared machine;
   `--rate 400` for the issue's target), one config fetch per call picked up (half with the
   ETag), members polling their dashboards, while a drift scan runs and
   `--onboard` clinics go live in one bulk transaction.
Then: lost and duplicated calls, queries per call-log page at both clinics, worker and web RSS,
and the outgoing webhooks (`--endpoint-share` of the clinics have an endpoint on a sink
process): events written to the outbox, deliveries made, requests the sink received.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from typing import Any

from bench import calls_data, common, loadgen


def stats(results: list[loadgen.Result], seconds: float, kind: str | None = None) -> dict[str, Any]:
    samples = [s for r in results if kind is None or r.kind == kind for s in r.samples]
    ok = [s for s in samples if 200 <= s[2] < 400]
    lat = [s[1] * 1000 for s in ok]
    return {
        "requests": len(samples),
        "ok": len(ok),
        "errors": len(samples) - len(ok),
        "rps": len(ok) / seconds,
        "p50_ms": common.pct(lat, 50),
        "p95_ms": common.pct(lat, 95),
        "p99_ms": common.pct(lat, 99),
        "max_ms": max(lat) if lat else float("nan"),
        "statuses": dict(sorted(_count(s[2] for s in samples).items())),
        "exhausted_streams": sum(1 for r in results if r.exhausted and r.kind == kind),
    }


def _count(values: Any) -> dict[int, int]:
    out: dict[int, int] = defaultdict(int)
    for v in values:
        out[v] += 1
    return out


def answered_calls(results: list[loadgen.Result], plans: list[calls_data.CallPlan]) -> set[str]:
    """Rooms whose every event was delivered and answered 2xx (LiveKit would retry no more)."""
    sent: dict[str, int] = defaultdict(int)
    good: dict[str, bool] = {}
    for r in results:
        if r.kind != "webhook":
            continue
        for _, _, code, tag in r.samples:
            sid = tag.split(":", 1)[0]
            sent[sid] += 1
            good[sid] = good.get(sid, True) and 200 <= code < 300
    return {p.room_sid for p in plans if good.get(p.room_sid) and sent[p.room_sid] == len(p.events)}


def webhook_streams(plans: list[calls_data.CallPlan], conns: int, interval: float) -> list[Any]:
    streams = []
    for i in range(conns):
        reqs, tags = [], []
        for plan in plans[i::conns]:
            for event, raw in plan.events:
                reqs.append(raw)
                tags.append(f"{plan.room_sid}:{event}")
        streams.append(loadgen.Stream(reqs, tags, cycle=False, interval=interval, kind="webhook"))
    return streams


def config_requests(ids: list[str], etags: dict[str, str], token: str, host: str, hit: bool):
    out = []
    for clinic_id in ids:
        headers = {"Authorization": f"Bearer {token}"}
        if hit:
            headers["If-None-Match"] = etags[clinic_id]
        out.append(loadgen.build_request("GET", f"/api/v1/agent/config?clinic={clinic_id}",
                                         host, headers))  # fmt: skip
    return out


def closed(reqs: list[bytes], tag: str, conns: int, kind: str) -> list[loadgen.Stream]:
    return [loadgen.Stream(reqs[i::conns] or reqs, [tag] * len(reqs[i::conns] or reqs),
                           kind=kind) for i in range(conns)]  # fmt: skip


def dashboard_streams(
    members: list[tuple[str, str]], host: str, interval: float
) -> list[loadgen.Stream]:
    """Each signed-in member: the status poll four times, then the dashboard, then the log."""
    streams = []
    for slug, cookie in members:
        h = {"Cookie": cookie}
        reqs = [loadgen.build_request("GET", f"/clinics/{slug}/status.json", host, h)] * 4
        reqs.append(loadgen.build_request("GET", f"/clinics/{slug}/", host, h))
        reqs.append(loadgen.build_request("GET", f"/clinics/{slug}/calls/", host, h))
        tags = ["status"] * 4 + ["dashboard", "call_log"]
        streams.append(loadgen.Stream(reqs, tags, interval=interval, kind="dashboard"))
    return streams


def by_tag(results: list[loadgen.Result], kind: str) -> dict[str, dict[str, float]]:
    lat: dict[str, list[float]] = defaultdict(list)
    for r in results:
        if r.kind == kind:
            for _, latency, code, tag in r.samples:
                if 200 <= code < 400:
                    lat[tag].append(latency * 1000)
    return {tag: {"n": len(v), "p50_ms": common.pct(v, 50), "p95_ms": common.pct(v, 95),
                  "p99_ms": common.pct(v, 99)} for tag, v in lat.items()}  # fmt: skip


def call_log_queries(clinics: list[dict[str, Any]]) -> dict[str, Any]:
    """Queries for the call log page and the dashboard at each clinic (in process)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from tenants.models import User

    out: dict[str, Any] = {}
    for label, clinic in (("heavy", clinics[0]), ("typical", clinics[1])):
        client = Client()
        client.force_login(User.objects.get(pk=clinic["user_id"]))
        for page in ("", "calls/"):
            path = f"/clinics/{clinic['slug']}/{page}"
            client.get(path)
            with CaptureQueriesContext(connection) as q:
                code = client.get(path).status_code
            timings = [float(x["time"]) * 1000 for x in q.captured_queries]
            out[f"{label}_{page or 'dashboard/'}"] = {
                "status": code, "queries": len(q.captured_queries),
                "slowest_query_ms": max(timings, default=0.0)}  # fmt: skip
    return out


def quiesce(seconds: float = 60) -> None:
    """Wait until the worker has drained the queue (drift scan, onboarding, sweeps)."""
    r = common.redis_client()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and r.llen(common.QUEUE):
        time.sleep(0.5)


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--clinics", type=int, default=10_000)
    p.add_argument("--calls", type=int, default=1_000_000, help="call rows already in the log")
    p.add_argument("--duration", type=int, default=60, help="the sustained webhook phase, s")
    p.add_argument("--full", action="store_true", help="the issue's 5 minutes (300 s)")
    p.add_argument("--phase-seconds", type=int, default=15, help="each other phase, s")
    p.add_argument("--connections", type=int, default=32, help="webhook connections")
    p.add_argument("--config-connections", type=int, default=16)
    p.add_argument(
        "--rate",
        type=float,
        default=0,
        help="webhook events/s in the mixed phase (0: half the sustained rate "
        "measured in phase 2, so the phase measures latency, not a backlog)",
    )
    p.add_argument("--pickup-rate", type=float, default=400.0,
                   help="webhook events/s in the pickup phase (the issue's 400)")  # fmt: skip
    p.add_argument("--members", type=int, default=10, help="members polling, mixed phase")
    p.add_argument("--poll-seconds", type=float, default=5.0, help="between a member's requests")
    p.add_argument("--onboard", type=int, default=1000, help="clinics going live, mixed phase")
    p.add_argument(
        "--endpoint-share", type=float, default=0.1, help="clinics with an outgoing webhook"
    )
    p.add_argument("--web-workers", type=int, default=3)
    p.add_argument("--web-threads", type=int, default=1, help=">1: gunicorn's gthread worker")
    p.add_argument("--worker-processes", type=int, default=2)
    p.add_argument("--generators", type=int, default=2, help="load generator processes")
    p.add_argument(
        "--max-events-per-s",
        type=float,
        default=700,
        help="webhooks prepared for the closed-loop phase (its ceiling)",
    )
    p.add_argument(
        "--profile", action="store_true", help="py-spy on one web worker during the webhook phase"
    )
    args = p.parse_args()
    if args.full:
        args.duration = 300
    return args


# The sink listens on loopback, which production refuses as a webhook destination.
PRIVATE_OK = {"WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS": "true"}


def start_sink() -> tuple[common.Proc, str]:
    port = common.free_port()
    sink = common.Proc("calls-sink", [sys.executable, "-m", "bench.webhook_sink", "--port",
                       str(port)], common.platform_env())  # fmt: skip
    sink.wait_for_log("sink ready")
    return sink, f"http://127.0.0.1:{port}"


def sink_received(base: str) -> int:
    import json
    from urllib.request import urlopen

    with urlopen(f"{base}/_stats", timeout=10) as reply:
        return sum(json.loads(reply.read()).values())


def start_stack(emu: Any, args: argparse.Namespace) -> dict[str, Any]:
    env = common.platform_env(emu.url, **PRIVATE_OK)
    workers = [common.start_worker(env, name=f"calls-worker-{i}")
               for i in range(args.worker_processes)]  # fmt: skip
    beat_file = str(common.VAR / "calls-beat-schedule")
    beat = common.Proc("calls-beat", [sys.executable, "-m", "celery", "-A", "config", "beat",
                       "-l", "warning", "-s", beat_file], env)  # fmt: skip
    web, base = common.start_web(
        env, workers=args.web_workers, threads=args.web_threads, access_log=False
    )
    return {"workers": workers, "beat": beat, "web": web, "base": base}


def profile_web(web: common.Proc, seconds: int) -> Any:
    import subprocess
    import sys
    from pathlib import Path

    import psutil

    child = psutil.Process(web.pid).children()[0]
    spy = str(Path(sys.executable).parent / "py-spy")
    out = common.VAR / "calls-web-profile.txt"
    return subprocess.Popen([spy, "record", "-p", str(child.pid), "-d", str(seconds), "-r", "200",
                             "--format", "raw", "-o", str(out), "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip


def go_live_bulk(ids: list[str]) -> float:
    """These draft clinics go live in one transaction (a staff bulk action)."""
    from django.db import transaction

    from telephony import services
    from tenants.models import Clinic

    began = time.time()
    with transaction.atomic():
        for clinic in Clinic.objects.filter(pk__in=ids):
            services.clinic_go_live(clinic=clinic, actor=None)
    return began


def seed(emu: Any, args: argparse.Namespace, sink_url: str) -> dict[str, Any]:
    from bench.bench_drift import seed_live

    common.flush()
    common.purge_queue()
    t0 = time.perf_counter()
    seed_live(emu.url, args.clinics)
    t1 = time.perf_counter()
    calls_s = calls_data.seed_calls(args.calls, args.clinics)
    onboard = [c["id"] for c in common.seed_clinics(args.onboard)] if args.onboard else []
    live = calls_data.live_clinics()
    step = round(1 / args.endpoint_share) if args.endpoint_share > 0 else 0
    endpoints = calls_data.seed_endpoints([c["id"] for c in live[::step]], sink_url) if step else 0
    heavy = calls_data.heavy_clinic()
    from tenants.models import Clinic, Membership

    typical_id = live[len(live) // 2]["id"]
    typical = {"id": typical_id, "slug": Clinic.objects.get(pk=typical_id).slug,
               "user_id": Membership.objects.filter(clinic_id=typical_id)
               .values_list("user_id", flat=True).first()}  # fmt: skip
    polled = [heavy, typical] + [{"id": c["id"]} for c in live[1 : max(1, args.members - 1)]]
    slugs = dict(Clinic.objects.filter(pk__in=[c["id"] for c in polled]).values_list("pk", "slug"))
    owners = dict(Membership.objects.filter(clinic_id__in=[c["id"] for c in polled])
                  .values_list("clinic_id", "user_id"))  # fmt: skip
    members = []
    for c in polled[: args.members]:
        key = next(k for k in slugs if str(k) == c["id"])
        members.append((slugs[key], calls_data.session_cookies([owners[key]])[0]))
    return {
        "live": live, "heavy": heavy, "typical": typical, "members": members,
        "onboard": onboard, "token": calls_data.agent_token(),
        "etags": calls_data.config_etags([c["id"] for c in live]),
        "seed_clinics_s": t1 - t0, "seed_calls_s": calls_s, "endpoints": endpoints,
    }  # fmt: skip


def run_phases(stack: dict[str, Any], data: dict[str, Any], args: argparse.Namespace) -> dict:
    from urllib.parse import urlsplit

    url = urlsplit(stack["base"])
    host, port = url.hostname or "127.0.0.1", url.port or 80
    hostname = f"{host}:{port}"
    gens, secs = args.generators, args.phase_seconds
    ttl = max(300, args.duration + 4 * secs + 300)
    live = data["live"]
    out: dict[str, Any] = {}

    def go(streams: list[loadgen.Stream], seconds: float) -> list[loadgen.Result]:
        return loadgen.run(host, port, streams, seconds, gens)

    floor_req = [loadgen.build_request("GET", "/healthz", hostname)]
    go(closed(floor_req, "healthz", 4, "floor"), 3)  # warm-up: imports, connections
    res = go(closed(floor_req, "healthz", args.connections, "floor"), secs)
    out["floor"] = stats(res, secs, "floor")

    n_calls = int(args.max_events_per_s * args.duration / 4) + args.connections
    plans = calls_data.plan_calls(live, n_calls, hostname, ttl_s=ttl)
    spy = profile_web(stack["web"], args.duration) if args.profile else None
    res = go(webhook_streams(plans, args.connections, 0.0), args.duration)
    if spy is not None:
        spy.wait(60)
    out["webhooks"] = stats(res, args.duration, "webhook")
    out["webhooks"]["events_per_s"] = out["webhooks"]["rps"]
    quiesce()
    out["webhooks"]["check"] = calls_data.check_calls(plans, answered_calls(res, plans))

    ids = [c["id"] for c in live]
    # config_200: every live clinic once (no web process has given its answer yet: the view
    # answers); config_200_kept: 500 clinics again and again (the answers each process keeps
    # by ETag, decision 0145), after a warm-up long enough for every web process to have
    # given each of them twice at the view's rate; config_304: 2,000 with the current ETag.
    for label, hit, some in (("config_200", False, ids), ("config_200_kept", False, ids[:500]),
                             ("config_304", True, ids[:2000])):  # fmt: skip
        reqs = config_requests(some, data["etags"], data["token"], hostname, hit)
        if label == "config_200_kept":
            view_rps = max(out["config_200"]["rps"], 1.0)
            warm = min(60.0, 2 * len(some) * args.web_workers / view_rps)
            go(closed(reqs, label, args.config_connections, "config"), warm)
        res = go(closed(reqs, label, args.config_connections, "config"), secs)
        out[label] = stats(res, secs, "config")

    for label in ("heavy", "typical"):
        slug = data["heavy" if label == "heavy" else "typical"]["slug"]
        cookie = dict(data["members"])[slug]
        headers = {"Cookie": cookie}
        req = [loadgen.build_request("GET", f"/clinics/{slug}/calls/", hostname, headers)]
        res = go(closed(req, label, 4, "call_log"), secs)
        out[f"call_log_{label}"] = stats(res, secs, "call_log")
        # The dashboard: the clinic's 20 most recent calls, its checklist and its status.
        req = [loadgen.build_request("GET", f"/clinics/{slug}/", hostname, headers)]
        res = go(closed(req, label, 4, "dashboard"), secs)
        out[f"dashboard_{label}"] = stats(res, secs, "dashboard")

    if not args.rate:
        args.rate = max(8.0, round(out["webhooks"]["rps"] / 2))
    # The condition alone: webhooks paced at --pickup-rate (400) with the agent's
    # config fetch at each pickup, nothing else.
    out["pickup"] = mixed(stack, data, args, plans_host=(host, port, hostname), ttl=ttl,
                          rate=args.pickup_rate, everything=False)  # fmt: skip
    out["pickup"]["rate_events_per_s"] = args.pickup_rate
    out["mixed"] = mixed(stack, data, args, plans_host=(host, port, hostname), ttl=ttl,
                         rate=args.rate, everything=True)  # fmt: skip
    out["mixed"]["rate_events_per_s"] = args.rate
    return out


def mixed(stack: dict[str, Any], data: dict[str, Any], args: argparse.Namespace, *,
          plans_host: tuple[str, int, str], ttl: int, rate: float,
          everything: bool) -> dict[str, Any]:  # fmt: skip
    """Webhooks paced at `rate` events/s and one config fetch per call picked up (half with
    the worker's ETag); with `everything`, members polling, a drift scan and onboarding too."""
    from celery import current_app

    host, port, hostname = plans_host
    secs = 2 * args.phase_seconds
    conns = args.connections
    plans = calls_data.plan_calls(data["live"], int(rate * secs / 4) + conns, hostname,
                                  ttl_s=ttl, seed=20 if everything else 21)  # fmt: skip
    streams = webhook_streams(plans, conns, conns / rate)
    pickups = rate / 4  # one config fetch per call, when the agent picks it up
    ids = [c["id"] for c in data["live"]][:2000]
    cfg = []
    for hit in (False, True):
        reqs = config_requests(ids, data["etags"], data["token"], hostname, hit)
        tag = "config_304" if hit else "config_200"
        cfg += [
            loadgen.Stream(reqs[i::4], [tag] * len(reqs[i::4]), interval=8 / pickups, kind="config")
            for i in range(4)
        ]
    streams += cfg
    if not everything:
        res = loadgen.run(host, port, streams, secs, args.generators)
        quiesce(120)
        return {
            "seconds": secs,
            "webhooks": stats(res, secs, "webhook"),
            "config": by_tag(res, "config"),
            "config_all": stats(res, secs, "config"),
            "check": calls_data.check_calls(plans, answered_calls(res, plans)),
        }
    streams += dashboard_streams(data["members"], hostname, args.poll_seconds)
    current_app.send_task("telephony.drift_scan", queue=common.QUEUE)
    began = go_live_bulk(data["onboard"]) if data["onboard"] else time.time()
    res = loadgen.run(host, port, streams, secs, args.generators)
    quiesce(120)
    out = {
        "seconds": secs,
        "webhooks": stats(res, secs, "webhook"),
        "config": by_tag(res, "config"),
        "config_all": stats(res, secs, "config"),
        "dashboard": by_tag(res, "dashboard"),
        "dashboard_errors": stats(res, secs, "dashboard")["errors"],
        "check": calls_data.check_calls(plans, answered_calls(res, plans)),
        "onboarding": onboarding_done(data["onboard"], began),
    }
    return out


def onboarding_done(ids: list[str], began: float) -> dict[str, Any]:
    from telephony.models import Provisioning, UpstreamStatus

    deadline = time.monotonic() + 180
    done = 0
    while ids and time.monotonic() < deadline:
        done = Provisioning.objects.filter(clinic_id__in=ids, state="active").count()
        if done == len(ids):
            break
        time.sleep(0.5)
    last = Provisioning.objects.filter(clinic_id__in=ids).order_by("-converged_at").first()
    status = UpstreamStatus.load()
    return {
        "clinics": len(ids), "active": done,
        "wall_s": last.converged_at.timestamp() - began if last and last.converged_at else None,
        "drift_scan_at": str(status.last_drift_scan_at),
        "drift_found": (status.last_drift_scan or {}).get("drift_count"),
    }  # fmt: skip


def main() -> None:
    args = parse()
    sink, sink_url = start_sink()
    with common.emulator(["--request-log-size", "1000"]) as emu:
        common.setup_django(emu.url, **PRIVATE_OK)
        data = seed(emu, args, sink_url)
        stack = start_stack(emu, args)
        samplers = {"web": common.RssSampler(stack["web"].pid, 0.5)}
        for w in stack["workers"]:
            samplers[w.name] = common.RssSampler(w.pid, 0.5)
        try:
            for s in samplers.values():
                s.__enter__()
            out = run_phases(stack, data, args)
            for s in samplers.values():
                s.__exit__(None, None, None)
            out["queries"] = call_log_queries([data["heavy"], data["typical"]])
            out["outgoing"] = {"endpoints": data["endpoints"], **calls_data.outbox_state(),
                               "sink_received": sink_received(sink_url)}  # fmt: skip
        finally:
            for proc in (stack["web"], stack["beat"], *stack["workers"], sink):
                proc.stop()
            common.purge_queue()
    floor = out["floor"]["rps"]
    results = {
        "clinics": args.clinics, "call_rows": args.calls, "duration_s": args.duration,
        "full": args.full, "phase_s": args.phase_seconds, "web_workers": args.web_workers,
        "web_threads": args.web_threads,
        "worker_processes": args.worker_processes, "connections": args.connections,
        "seed_clinics_s": data["seed_clinics_s"], "seed_calls_s": data["seed_calls_s"],
        "ratios_to_floor": {
            "webhooks": out["webhooks"]["rps"] / floor,
            "config_200": out["config_200"]["rps"] / floor,
            "config_200_kept": out["config_200_kept"]["rps"] / floor,
            "config_304": out["config_304"]["rps"] / floor,
            "call_log_heavy": out["call_log_heavy"]["rps"] / floor,
            "dashboard_heavy": out["dashboard_heavy"]["rps"] / floor,
        },
        "rss_mb": {
            "web_tree_peak": samplers["web"].peak_total,
            **{name: s.peak_own for name, s in samplers.items() if name != "web"},
        },
        "worker_cpu_s": {name: s.cpu_s for name, s in samplers.items() if name != "web"},
        **out,
        "targets": {
            "webhook_events_per_s_min": 400, "webhook_p99_ms_max": 250,
            "webhook_ratio_min": 0.25, "config_p99_ms_max_at_400": 50,
            "config_304_ratio_min": 0.70, "call_log_p95_ms_max": 100,
            "lost": 0, "duplicated": 0,
        },
    }  # fmt: skip
    common.write_results("calls", results)


if __name__ == "__main__":
    main()
