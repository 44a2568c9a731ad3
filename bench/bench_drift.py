"""Drift scan: 10,000 live clinics in LiveKit, a few drifted out of band.

    python -m bench.bench_drift [--clinics 10000] [--page-size 1000]

Seeding: clinics by bulk_create; their trunks and rules created in the emulator through
livekit-api (the exact specs reconcile would write), and the Provisioning rows set to what
reconcile records (IDs, applied-spec hashes, active, converged). Then drift is injected
through LiveKit's API: trunks and rules deleted, trunks changed, foreign trunks added.

The scan (telephony.provisioning.drift.scan) runs in this process against the emulator with
`--honour-list-limit`, so it really pages. Upstream calls come from the emulator's request log
(target: pages, not clinics), wall time (target < 30 s), drift found = drift injected.
Baseline, same run: verifying clinic by clinic (one list-by-id call for the trunk and one for
the rule, as a `verify` reconcile does), timed on a sample and scaled to all clinics.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from typing import Any

from bench import common


async def _create_all(url: str, specs: list[tuple[Any, Any]], concurrency: int) -> list[str]:
    """Create each (trunk, rule-maker) pair; returns the trunk and rule ids in order."""
    from livekit import api

    from telephony.livekit_gateway import _rule_info, _trunk_info

    out: list[Any] = [None] * len(specs)
    async with api.LiveKitAPI(url, common.LIVEKIT_KEY, common.LIVEKIT_SECRET) as lk:
        next_i = 0

        async def one() -> None:
            nonlocal next_i
            while next_i < len(specs):
                i = next_i
                next_i += 1
                trunk_spec, make_rule = specs[i]
                trunk = await lk.sip.create_inbound_trunk(
                    api.CreateSIPInboundTrunkRequest(trunk=_trunk_info(trunk_spec))
                )
                rule_spec = make_rule(trunk.sip_trunk_id)
                rule = await lk.sip.create_dispatch_rule(
                    api.CreateSIPDispatchRuleRequest(dispatch_rule=_rule_info(rule_spec))
                )
                out[i] = (trunk.sip_trunk_id, rule.sip_dispatch_rule_id, trunk_spec, rule_spec)

        await asyncio.gather(*(one() for _ in range(concurrency)))
    return out


def seed_live(url: str, n: int) -> list[dict[str, Any]]:
    from django.db.models import Case, CharField, Value, When
    from django.utils import timezone

    from telephony.models import PhoneNumber, Provisioning, Receptionist
    from telephony.provisioning.desired import rule_spec, spec_hash, trunk_spec
    from tenants.models import Clinic

    seeded = common.seed_clinics(n, state="live")
    ids = [c["id"] for c in seeded]
    numbers: dict[str, list[str]] = {}
    for clinic_id, e164 in PhoneNumber.objects.values_list("clinic_id", "e164"):
        numbers.setdefault(str(clinic_id), []).append(e164)
    clinics = {
        str(c.pk): c for c in Clinic.objects.select_related("trunk_settings").filter(pk__in=ids)
    }
    first = {str(r.clinic_id): r for r in Receptionist.objects.filter(clinic_id__in=ids)}
    specs = []
    for clinic_id in ids:
        c = clinics[clinic_id]
        specs.append(
            (
                trunk_spec(c, numbers[clinic_id], c.trunk_settings),
                lambda trunk_id, c=c: rule_spec(c, trunk_id, first[str(c.pk)]),
            )
        )
    made = asyncio.run(_create_all(url, specs, 32))
    now = timezone.now()
    rows = []
    for clinic_id, (trunk_id, rule_id, tspec, rspec) in zip(ids, made, strict=True):
        rows.append((clinic_id, trunk_id, rule_id, spec_hash(tspec), spec_hash(rspec)))
    for start in range(0, len(rows), 2000):
        chunk = rows[start : start + 2000]

        def case(field: int, chunk: list[tuple[str, ...]] = chunk) -> Case:
            return Case(
                *[When(clinic_id=r[0], then=Value(r[field])) for r in chunk],
                output_field=CharField(),
            )

        Provisioning.objects.filter(clinic_id__in=[r[0] for r in chunk]).update(
            trunk_id=case(1),
            dispatch_rule_id=case(2),
            trunk_applied_hash=case(3),
            rule_applied_hash=case(4),
            generation=1,
            observed_generation=1,
            state="active",
            converged_at=now,
            last_synced_at=now,
        )
    return [
        {"id": cid, "slug": clinics[cid].slug, "trunk_id": r[0], "rule_id": r[1]}
        for cid, r in zip(ids, made, strict=True)
    ]


def inject_drift(url: str, live: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Out-of-band changes through LiveKit's API, each to a different clinic."""
    from livekit import api

    step = max(1, len(live) // 13)
    picks = [live[i * step] for i in range(12)]
    deleted_trunks, deleted_rules, changed = picks[:3], picks[3:6], picks[6:10]

    async def run() -> None:
        async with api.LiveKitAPI(url, common.LIVEKIT_KEY, common.LIVEKIT_SECRET) as lk:
            for c in deleted_trunks:
                await lk.sip.delete_trunk(api.DeleteSIPTrunkRequest(sip_trunk_id=c["trunk_id"]))
            for c in deleted_rules:
                await lk.sip.delete_dispatch_rule(
                    api.DeleteSIPDispatchRuleRequest(sip_dispatch_rule_id=c["rule_id"])
                )
            for c in changed:
                found = await lk.sip.list_inbound_trunk(
                    api.ListSIPInboundTrunkRequest(trunk_ids=[c["trunk_id"]])
                )
                info = found.items[0]
                info.allowed_addresses.append("198.51.100.7")  # someone widened it by hand
                await lk.sip.update_inbound_trunk(c["trunk_id"], info)
            for i in range(2):  # foreign objects: never touched, only counted
                await lk.sip.create_inbound_trunk(
                    api.CreateSIPInboundTrunkRequest(
                        trunk=api.SIPInboundTrunkInfo(name=f"other {i}", numbers=[f"+1888{i:07d}"])
                    )
                )

    asyncio.run(run())
    return {
        "trunk_deleted": [c["slug"] for c in deleted_trunks],
        "rule_deleted": [c["slug"] for c in deleted_rules],
        "trunk_changed": [c["slug"] for c in changed],
    }


def naive_verify(url: str, sample: list[dict[str, Any]]) -> float:
    """Seconds per clinic to verify it on its own (trunk by id, rule by id)."""
    from telephony.livekit_gateway import LiveKitGateway

    gw = LiveKitGateway(url, common.LIVEKIT_KEY, common.LIVEKIT_SECRET, timeout=10)
    began = time.perf_counter()
    for c in sample:
        gw.list_inbound_trunks(trunk_ids=[c["trunk_id"]])
        gw.list_dispatch_rules(rule_ids=[c["rule_id"]])
    return (time.perf_counter() - began) / len(sample)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clinics", type=int, default=10_000)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--sample", type=int, default=300)
    args = parser.parse_args()
    n = args.clinics
    extra = ["--honour-list-limit", "--request-log-size", str(4 * n + 1000)]
    with common.emulator(extra) as emu:
        common.setup_django(emu.url, DRIFT_SCAN_PAGE_SIZE=str(args.page_size))
        from django.conf import settings

        from telephony.livekit_gateway import LiveKitGateway
        from telephony.models import Provisioning
        from telephony.provisioning.drift import scan

        common.flush()
        common.purge_queue()
        began = time.perf_counter()
        live = seed_live(emu.url, n)
        seed_s = time.perf_counter() - began
        injected = inject_drift(emu.url, live)
        per_clinic_s = naive_verify(emu.url, live[: args.sample])
        since = emu.control.requests_summary()["requests"][-1]["seq"]
        gw = LiveKitGateway(emu.url, common.LIVEKIT_KEY, common.LIVEKIT_SECRET, timeout=30)
        with common.RssSampler(os.getpid()) as rss:
            began = time.perf_counter()
            report = scan(gw)
            scan_s = time.perf_counter() - began
        calls = [r for r in emu.control.requests(since=since) if r["method"].startswith("List")]
        repaired = Provisioning.objects.filter(generation=2).count()
        common.purge_queue()
        assert args.page_size == settings.DRIFT_SCAN_PAGE_SIZE

    expected = sorted(s for group in injected.values() for s in group)
    found = sorted(line.split(":", 1)[0] for line in report["drifted"])
    results = {
        "clinics": n,
        "page_size": args.page_size,
        "seed_s": seed_s,
        "scan_wall_s": scan_s,
        "upstream_calls": len(calls),
        "upstream_calls_by_method": {
            m: sum(1 for r in calls if r["method"] == m) for m in {r["method"] for r in calls}
        },
        "trunks_seen": report["trunks_seen"],
        "rules_seen": report["rules_seen"],
        "drift_injected": len(expected),
        "drift_found": report["drift_count"],
        "drift_found_equals_injected": found == expected,
        "clinics_reprovisioned": repaired,
        "foreign_ignored": report["foreign_ignored"],
        "orphans": report["orphans"],
        "scan_process_peak_rss_mb": rss.peak_own,
        "baseline_per_clinic_calls": 2 * n,
        "baseline_per_clinic_s_extrapolated": per_clinic_s * n,
        "baseline_sample": args.sample,
        "ratio_calls_baseline_to_scan": 2 * n / max(1, len(calls)),
        "ratio_time_baseline_to_scan": per_clinic_s * n / scan_s,
        "targets": {"scan_wall_s_max": 30, "upstream_calls": "pages, not clinics"},
        "injected": injected,
    }
    common.write_results("drift", results)
    _plot(results)


def _plot(r: dict[str, Any]) -> None:
    plt = common.pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    labels = ["drift scan (pages)", "clinic by clinic"]
    axes[0].bar(labels, [r["upstream_calls"], r["baseline_per_clinic_calls"]], color=["C0", "C7"])
    axes[0].set_yscale("log")
    axes[0].set_ylabel("LiveKit calls (log)")
    for i, v in enumerate([r["upstream_calls"], r["baseline_per_clinic_calls"]]):
        axes[0].text(i, v, f"{v:,}", ha="center", va="bottom")
    times = [r["scan_wall_s"], r["baseline_per_clinic_s_extrapolated"]]
    axes[1].bar(labels, times, color=["C0", "C7"])
    axes[1].axhline(30, color="grey", linestyle="--", linewidth=0.8)
    axes[1].set_ylabel("seconds (dashed: 30 s target)")
    for i, v in enumerate(times):
        axes[1].text(i, v, f"{v:.1f} s", ha="center", va="bottom")
    fig.suptitle(
        f"Drift scan over {r['clinics']:,} live clinics: found {r['drift_found']} of "
        f"{r['drift_injected']} injected"
    )
    fig.tight_layout()
    fig.savefig(common.plot_path("drift"), dpi=110)


if __name__ == "__main__":
    main()
