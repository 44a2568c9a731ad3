"""Fault-matrix figures from ground truth: the emulator's state and request log plus the DB.

dup      = our-marked trunks per clinic and rules per clinic and line beyond one (a clinic has
           a rule per line, decision 0085), plus creates beyond one per clinic counted in the
           request log (including creates whose reply was dropped)
stuck    = clinics whose observed_generation lags their generation after settling
orphans  = our-marked objects no clinic's row points at
ttc      = converged_at - requested_at per clinic (seconds), p50/p95/max
"""

from __future__ import annotations

import json
import os
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

from django.db.models import F

from emulators.livekit.testing import EmulatorControl
from telephony.models import LineRule, Provisioning

RESULTS = Path(os.environ.get("FAULT_RESULTS_DIR", "var/fault-results"))


def _marker(obj: dict[str, Any]) -> dict[str, Any]:
    try:
        meta = json.loads(obj.get("metadata") or "{}")
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) else {}


def _owner(obj: dict[str, Any]) -> str | None:
    return _marker(obj).get("clinic")


def _line(obj: dict[str, Any]) -> tuple[str | None, str]:
    """(clinic, line) of a rule: "" for the trunk-wide rule."""
    meta = _marker(obj)
    return meta.get("clinic"), str(meta.get("line") or "")


def assess(control: EmulatorControl, clinic_ids: list[str]) -> dict[str, Any]:
    state = control.state()
    trunks = Counter(_owner(t) for t in state["inbound_trunks"])
    rules = Counter(_line(r) for r in state["dispatch_rules"])
    provs = {str(p.clinic_id): p for p in Provisioning.objects.filter(clinic_id__in=clinic_ids)}
    live_trunk_creates = len(control.created_ids("CreateSIPInboundTrunk"))
    live_rule_creates = len(control.created_ids("CreateSIPDispatchRule"))
    dup_state = sum(max(0, trunks[c] - 1) for c in clinic_ids)
    dup_state += sum(max(0, n - 1) for (c, _), n in rules.items() if c in clinic_ids)
    claimed = {p.trunk_id for p in provs.values()} | {p.dispatch_rule_id for p in provs.values()}
    claimed |= set(
        LineRule.objects.filter(clinic_id__in=clinic_ids).values_list("rule_id", flat=True)
    )
    orphans = [
        o
        for o in [*state["inbound_trunks"], *state["dispatch_rules"]]
        if _owner(o) and (o.get("sip_trunk_id") or o.get("sip_dispatch_rule_id")) not in claimed
    ]
    stuck = Provisioning.objects.filter(
        clinic_id__in=clinic_ids, observed_generation__lt=F("generation")
    ).count()
    ttc = sorted(
        (p.converged_at - p.requested_at).total_seconds()
        for p in provs.values()
        if p.converged_at and p.requested_at
    )
    return {
        "clinics": len(clinic_ids),
        "dup": dup_state,
        "trunk_creates": live_trunk_creates,
        "rule_creates": live_rule_creates,
        "stuck": stuck,
        "orphans": len(orphans),
        "failed": sum(1 for p in provs.values() if p.state == "failed"),
        "ttc_p50": round(statistics.median(ttc), 3) if ttc else None,
        "ttc_p95": round(ttc[int(0.95 * (len(ttc) - 1))], 3) if ttc else None,
        "ttc_max": round(ttc[-1], 3) if ttc else None,
        "upstream_requests": len(control.requests()),
    }


def record(name: str, figures: dict[str, Any]) -> None:
    """Print the row and keep it for docs/reliability.md (var/fault-results/<name>.json)."""
    print(f"\nFAULT {name}: {json.dumps(figures, sort_keys=True)}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(figures, indent=2, sort_keys=True))
