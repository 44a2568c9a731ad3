"""`python -m bench projects` in miniature, so its code cannot rot: 60 clinics over three
emulators as three LiveKit projects, each enforcing 600 requests a minute itself (429 beyond
it), real `celery worker` processes, then 20 clinics in one project. No duration is
asserted (speed lives in bench/); what the run must show is asserted: clinics placed by
weight, each project holding exactly its clinics' objects, 2 calls a clinic, no 429.

The benchmark gets a database of its own next to the test database (`<name>_bench`, made
and migrated on first use, emptied by each run) and the test's Redis DB."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from urllib.parse import urlsplit, urlunsplit

import pytest

from emulators.livekit.testing import REPO_ROOT

pytestmark = pytest.mark.e2e


def _bench_database_url() -> str:
    parts = urlsplit(os.environ["DATABASE_URL"])
    name = parts.path.lstrip("/") + "_bench"
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def test_the_projects_benchmark_runs_in_miniature(tmp_path):
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.skip("the benchmark needs PostgreSQL (DATABASE_URL)")
    env = {
        **os.environ,
        "BENCH_DATABASE_URL": _bench_database_url(),
        "BENCH_REDIS_URL": os.environ["REDIS_URL"],
    }
    args = ["--clinics", "60", "--per-minute", "600", "--results-dir", str(tmp_path)]
    done = subprocess.run(
        [sys.executable, "-m", "bench.bench_projects", *args, "--no-plot"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (path,) = tmp_path.glob("projects-*.json")
    results = json.loads(path.read_text())

    assert results["clinics_per_project"] == {"default": 20, "beta": 20, "gamma": 20}
    assert results["each_project_holds_exactly_its_clinics"] is True
    assert results["status_429"] == 0
    three, one = results["runs"]
    assert three["calls_per_clinic"] == one["calls_per_clinic"] == 2.0
    assert {p["region"] for p in three["per_project"].values()} == {"eu", "us"}
    assert one["per_project"].keys() == {"default"} and one["clinics"] == 20
    # The figures the report is about are there (their values are the benchmark's business).
    for key in ("wall_s", "combined_rate_bound_s", "speedup_over_one_project"):
        assert results[key] > 0
