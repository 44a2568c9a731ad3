"""The drift scan: page through every trunk and dispatch rule in LiveKit and compare.

One pass costs a handful of list calls (pages, not clinics). For every live, converged
clinic it checks that LiveKit still holds exactly what reconcile last wrote (by the keyed
hash of the spec); a missing or changed object re-provisions the clinic with verification.
Objects that carry this deployment's marker but belong to no live clinic are orphans: they
are recorded, and deleted once they have been orphaned for ORPHAN_GRACE_SECONDS (a create
still in flight is never one: clinics with an open intent or a held lease are skipped).
Objects without our marker are counted and never touched.

One scan covers one LiveKit project: it lists that project and compares only that
project's clinics, and an object of ours in it that none of its clinics claims is that
project's orphan (a clinic of another project has no business there). `scan_all` scans
every project that is not retired, one after the other; a project that cannot be read (or
whose credentials circuit is open) is reported and skipped, never a reason to stop
scanning the others (docs/decisions/0095).

Provisioning goes first: the scan's calls take a token from the project's limiter only
while the bucket keeps DRIFT_SCAN_LIMITER_RESERVE tokens for provisioning, and a scan that
cannot get one in time is *deferred* (reported, not failed) to the next scheduled scan
(docs/decisions/0161).
"""

from __future__ import annotations

import copy
import logging
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from telephony.livekit_gateway import (
    LOCAL_RATE_LIMIT,
    LiveKitError,
    LiveKitGateway,
    RemoteRule,
    RemoteTrunk,
)
from telephony.models import (
    LineRule,
    LiveKitProject,
    OrphanObject,
    Provisioning,
    ProvisioningEvent,
    UpstreamStatus,
)
from telephony.provisioning.desired import owner_of, spec_hash
from telephony.provisioning.lease import db_now
from telephony.ratelimit import LocalLimiter, RedisLimiter, Yielding
from tenants.models import Clinic

logger = logging.getLogger(__name__)

T = TypeVar("T", RemoteTrunk, RemoteRule)


def _pages(
    fetch: Callable[..., list[T]], key: Callable[[T], str], size: int
) -> tuple[list[T], int]:
    """Every item, paging with after_id (works whether or not LiveKit honours limit)."""
    items: list[T] = []
    after, calls = "", 0
    while True:
        page = fetch(after_id=after, limit=size)
        calls += 1
        items.extend(page)
        if not page or len(page) < size:
            return items, calls
        after = key(page[-1])


def scan(
    gateway: LiveKitGateway | None = None, project: LiveKitProject | None = None
) -> dict[str, Any]:
    """Scan one project (the default one unless told) through its gateway."""
    from telephony.projects import default_project
    from telephony.upstream import gateway_for

    project = project or default_project()
    gw = yielding(gateway or gateway_for(project))
    started_at = timezone.now()
    size = settings.DRIFT_SCAN_PAGE_SIZE
    trunks, trunk_calls = _pages(gw.list_inbound_trunks, lambda t: t.trunk_id, size)
    rules, rule_calls = _pages(gw.list_dispatch_rules, lambda r: r.rule_id, size)
    remote_trunks = {t.trunk_id: t for t in trunks}
    remote_rules = {r.rule_id: r for r in rules}

    provs = _provisionings(project)
    lines = _lines(project)
    drifted = _find_drift(provs, remote_trunks, remote_rules, lines)
    for prov, reason in drifted:
        _repair(prov, reason)
    orphans, deleted = _orphans(gw, project, provs, trunks, rules, lines)
    report = {
        "project": project.name,
        "started_at": started_at.isoformat(),  # the console's "drift: last scan" filter
        "at": timezone.now().isoformat(),
        "trunks_seen": len(trunks),
        "rules_seen": len(rules),
        "upstream_calls": trunk_calls + rule_calls,
        "drifted": [f"{p.clinic.slug}: {reason}" for p, reason in drifted][:200],
        "drift_count": len(drifted),
        "orphans": orphans,
        "orphans_deleted": deleted,
        "foreign_ignored": _foreign(trunks) + _foreign(rules),
    }
    _store(project, report)
    logger.info(
        "drift scan of %s: %d trunks, %d rules, %d drifted, %d orphans (%d deleted), %d calls",
        project.name,
        len(trunks),
        len(rules),
        len(drifted),
        orphans,
        deleted,
        report["upstream_calls"],
    )
    return report


def scan_all() -> dict[str, dict[str, Any]]:
    """Scan every project that is not retired; one that fails is reported, the rest go on."""
    from telephony.projects import default_project
    from telephony.provisioning.circuit import auth_blocked

    default_project()
    reports: dict[str, dict[str, Any]] = {}
    for project in LiveKitProject.objects.exclude(status=LiveKitProject.Status.RETIRED):
        blocked = auth_blocked(project.name)
        try:
            if blocked:
                raise LiveKitError(blocked)
            reports[project.name] = scan(project=project)
        except LiveKitError as exc:
            if exc.code == LOCAL_RATE_LIMIT and not blocked:
                reports[project.name] = _deferred(project)
                continue
            logger.warning("drift scan of %s skipped: %s", project.name, exc.sentence)
            report = {"project": project.name, "at": timezone.now().isoformat()}
            reports[project.name] = {**report, "error": exc.sentence}
            _store(project, reports[project.name])
    return reports


def yielding(gw: LiveKitGateway) -> LiveKitGateway:
    """The gateway with a limiter that gives way to provisioning (decision 0161): a scan
    call waits until the bucket would keep DRIFT_SCAN_LIMITER_RESERVE tokens (at most one
    less than the burst) after its own."""
    limiter = getattr(gw, "limiter", None)
    if not isinstance(limiter, (LocalLimiter, RedisLimiter)):
        return gw  # no limiter (a test's fake), or one already yielding
    reserve = min(settings.DRIFT_SCAN_LIMITER_RESERVE, limiter.config.burst - 1)
    scan_gw = copy.copy(gw)
    scan_gw.limiter = Yielding(limiter, max(0.0, reserve))
    return scan_gw


DEFERRED = (
    "Deferred: provisioning was using this project's LiveKit rate limit; the next scan "
    "runs at its usual time."
)


def _deferred(project: LiveKitProject) -> dict[str, Any]:
    """Record a scan given way to provisioning: the last finished scan's report stays, with
    when and why this one did not run."""
    logger.info("drift scan of %s deferred: provisioning has the rate limit", project.name)
    note = {"deferred": DEFERRED, "deferred_at": timezone.now().isoformat()}
    if project.from_environment:
        last = UpstreamStatus.load().last_drift_scan
        UpstreamStatus.objects.filter(pk=1).update(last_drift_scan={**(last or {}), **note})
    else:
        rows = LiveKitProject.objects.filter(pk=project.pk)
        last = rows.values_list("last_drift_scan", flat=True).first()
        rows.update(last_drift_scan={**(last or {}), **note})
    return {"project": project.name, "at": note["deferred_at"], "deferred": DEFERRED}


def _store(project: LiveKitProject, report: dict[str, Any]) -> None:
    """The default project's last scan stays in UpstreamStatus (as before several projects);
    a registered project's goes on its row."""
    now = timezone.now()
    if project.from_environment:
        UpstreamStatus.load()
        UpstreamStatus.objects.filter(pk=1).update(last_drift_scan_at=now, last_drift_scan=report)
    else:
        LiveKitProject.objects.filter(pk=project.pk).update(
            last_drift_scan_at=now, last_drift_scan=report
        )


def _orphans_of(project: LiveKitProject) -> Q:
    if project.is_default:
        return Q(project=project) | Q(project__isnull=True)
    return Q(project=project)


def _provisionings(project: LiveKitProject) -> list[Provisioning]:
    """The provisioning row of every clinic of the project this scan lists, with only the
    fields the scan compares."""
    from telephony.projects import clinics_of

    return list(
        Provisioning.objects.filter(clinic__in=Clinic.objects.filter(clinics_of(project)))
        .select_related("clinic")
        .only(
            "clinic__state",
            "clinic__slug",
            "trunk_id",
            "dispatch_rule_id",
            "trunk_applied_hash",
            "rule_applied_hash",
            "generation",
            "observed_generation",
            "state",
            "trunk_intent",
            "rule_intent",
            "lease_until",
        )
    )


def _lines(project: LiveKitProject) -> dict[Any, list[LineRule]]:
    """The line rules' records of the project's clinics, by clinic id (decision 0085)."""
    from telephony.projects import clinics_of

    out: dict[Any, list[LineRule]] = defaultdict(list)
    for row in LineRule.objects.filter(clinic__in=Clinic.objects.filter(clinics_of(project))):
        out[row.clinic_id].append(row)
    return out


def _find_drift(
    provs: list[Provisioning],
    remote_trunks: dict[str, RemoteTrunk],
    remote_rules: dict[str, RemoteRule],
    lines: dict[Any, list[LineRule]],
) -> list[tuple[Provisioning, str]]:
    drifted = []
    for p in provs:
        settled = p.state == Provisioning.State.ACTIVE and p.observed_generation >= p.generation
        if not settled or p.clinic.state not in (Clinic.State.LIVE, Clinic.State.SUSPENDED):
            continue
        reason = ""
        if p.trunk_id:
            trunk = remote_trunks.get(p.trunk_id)
            if trunk is None:
                reason = f"trunk {p.trunk_id} is missing"
            elif spec_hash(trunk.as_spec()) != p.trunk_applied_hash:
                reason = f"trunk {p.trunk_id} was changed outside Switchboard"
        if not reason and p.dispatch_rule_id:
            rule = remote_rules.get(p.dispatch_rule_id)
            if rule is None:
                reason = f"dispatch rule {p.dispatch_rule_id} is missing"
            elif spec_hash(rule.as_spec()) != p.rule_applied_hash:
                reason = f"dispatch rule {p.dispatch_rule_id} was changed outside Switchboard"
        for line in lines.get(p.clinic_id, ()):
            reason = reason or _line_drift(line, remote_rules)
        if not reason and p.clinic.state == Clinic.State.LIVE and not p.dispatch_rule_id:
            reason = "the dispatch rule is missing"
        if reason:
            drifted.append((p, reason))
    return drifted


def _line_drift(line: LineRule, remote_rules: dict[str, RemoteRule]) -> str:
    if not line.rule_id:
        return ""
    rule = remote_rules.get(line.rule_id)
    if rule is None:
        return f"dispatch rule {line.rule_id} of a line is missing"
    if spec_hash(rule.as_spec()) != line.applied_hash:
        return f"dispatch rule {line.rule_id} of a line was changed outside Switchboard"
    return ""


def _repair(prov: Provisioning, reason: str) -> None:
    from telephony.services import request_provisioning

    with transaction.atomic():
        ProvisioningEvent.objects.create(
            clinic=prov.clinic, generation=prov.generation, action="drift_detected", detail=reason
        )
        request_provisioning(prov.clinic, reason=f"drift: {reason}", verify=True)


def _unclaimed(
    provs: list[Provisioning],
    trunks: list[RemoteTrunk],
    rules: list[RemoteRule],
    now: Any,
    moving_out: set[str],
    lines: dict[Any, list[LineRule]],
) -> list[tuple[str, str, str, str]]:
    """(kind, id, clinic ref, name) of our objects that none of the project's clinics
    claims (line rules included), rules first; a clinic with a create in flight claims
    everything it marked, and a clinic moving out of the project its objects here until the
    move is done."""
    claimed = {p.trunk_id for p in provs} | {p.dispatch_rule_id for p in provs} | moving_out
    claimed |= {line.rule_id for rows in lines.values() for line in rows}
    busy = {
        str(p.clinic_id)
        for p in provs
        if p.trunk_intent or p.rule_intent or (p.lease_until and p.lease_until > now)
    }
    busy |= {str(c) for c, rows in lines.items() if any(r.intent for r in rows)}
    found: list[tuple[str, str, str, str]] = []
    for kind, items in (("rule", rules), ("trunk", trunks)):
        for obj in items:
            clinic_ref = owner_of(obj.metadata)
            oid = obj.trunk_id if isinstance(obj, RemoteTrunk) else obj.rule_id
            if clinic_ref is None or oid in claimed or clinic_ref in busy:
                continue
            found.append((kind, oid, clinic_ref, obj.name))
    return found


def _orphans(
    gw: LiveKitGateway,
    project: LiveKitProject,
    provs: list[Provisioning],
    trunks: list[RemoteTrunk],
    rules: list[RemoteRule],
    lines: dict[Any, list[LineRule]],
) -> tuple[int, int]:
    from telephony.moves import claimed_by_moves

    now = db_now()  # leases are on the database's clock
    found = _unclaimed(provs, trunks, rules, now, claimed_by_moves(project), lines)
    seen_ids = [oid for _, oid, _, _ in found]
    OrphanObject.objects.filter(_orphans_of(project), deleted_at__isnull=True).exclude(
        object_id__in=seen_ids
    ).update(deleted_at=now)
    grace = now - timedelta(seconds=settings.ORPHAN_GRACE_SECONDS)
    deleted = 0
    for kind, oid, clinic_ref, name in found:  # rules first: a trunk's rule goes before it
        orphan, created = OrphanObject.objects.get_or_create(
            object_id=oid,
            defaults={
                "kind": kind,
                "clinic_ref": clinic_ref,
                "name": name[:200],
                "project": project,
            },
        )
        if not created:
            OrphanObject.objects.filter(pk=orphan.pk).update(last_seen_at=now, deleted_at=None)
        if created or orphan.first_seen_at > grace:
            continue
        if kind == "rule":
            gw.delete_dispatch_rule(oid)
        else:
            gw.delete_trunk(oid)
        OrphanObject.objects.filter(pk=orphan.pk).update(deleted_at=now)
        if _is_uuid(clinic_ref) and Clinic.objects.filter(pk=clinic_ref).exists():
            ProvisioningEvent.objects.create(
                clinic_id=clinic_ref, action="orphan_deleted", detail=f"{kind} {oid}"
            )
        deleted += 1
    return len(found), deleted


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _foreign(items: list[RemoteTrunk] | list[RemoteRule]) -> int:
    return sum(1 for item in items if owner_of(item.metadata) is None)
