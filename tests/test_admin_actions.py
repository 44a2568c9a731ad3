"""Staff console actions: single and bulk (with the confirmation step), through the
services, recorded with the acting staff user; the two groups and what each may do."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from telephony import publishing, services
from telephony.models import Provisioning, ProvisioningEvent
from telephony.provisioning.reconcile import reconcile_clinic
from tests.console import staff_in
from tests.factories import UserFactory, make_clinic

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/tenants/clinic/"
MUTATING = ("reprovision_now", "retry_failed", "suspend", "resume", "offboard")
SINGLE = ("reprovision", "retry", "suspend", "resume", "offboard")


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    published = []
    monkeypatch.setattr(publishing, "_publish", lambda cid, verify: published.append(cid))
    return published


@pytest.fixture
def clinics(owner, fake_gateway):
    """Three live clinics, converged against the fake LiveKit."""
    out = []
    for i in range(3):
        c = make_clinic(owner, f"Action Clinic {i}")
        services.phone_number_add(clinic=c, number=f"+1415555030{i}")
        services.clinic_go_live(clinic=c, actor=owner)
        assert reconcile_clinic(c.pk).outcome == "converged"
        out.append(c)
    return out


def login(client, group):
    user = staff_in(group)
    client.force_login(user)
    return user


def bulk(client, action, clinics, *, confirm):
    data = {"action": action, "_selected_action": [str(c.pk) for c in clinics]}
    if confirm:
        data["post"] = "yes"
    return client.post(CHANGELIST, data)


def events(user, detail=None):
    qs = ProvisioningEvent.objects.filter(actor=user)
    return qs.filter(detail=detail) if detail else qs


def state(c):
    c.refresh_from_db()
    return c.state, Provisioning.objects.get(clinic=c).state


# --- bulk, two steps --------------------------------------------------------------------


def test_bulk_suspend_asks_first_then_suspends_and_records_the_user(client, clinics):
    user = login(client, "operator")
    r = bulk(client, "suspend", clinics[:2], confirm=False)
    assert r.status_code == 200
    page = r.content.decode()
    assert (
        "Suspend: are you sure?" in page and "Action Clinic 0" in page and "Action Clinic 1" in page
    )
    assert "calls stop" in page.lower()
    assert state(clinics[0]) == ("live", "active")  # nothing happened yet
    assert not events(user).exists()

    r = bulk(client, "suspend", clinics[:2], confirm=True)
    assert r.status_code == 302
    assert state(clinics[0]) == ("suspended", "pending")
    assert state(clinics[1]) == ("suspended", "pending")
    assert state(clinics[2]) == ("live", "active")
    assert events(user, "suspend").count() == 2


def test_suspend_removes_the_rule_keeps_the_trunk_and_resume_brings_it_back(
    client, clinics, fake_gateway
):
    user = login(client, "operator")
    c = clinics[0]
    bulk(client, "suspend", [c], confirm=True)
    reconcile_clinic(c.pk)
    prov = Provisioning.objects.get(clinic=c)
    assert prov.state == "active" and prov.trunk_id and not prov.dispatch_rule_id
    assert prov.trunk_id in fake_gateway.trunks
    assert c.phone_numbers.count() == 1

    bulk(client, "resume", [c], confirm=True)
    assert state(c)[0] == "live"
    reconcile_clinic(c.pk)
    assert Provisioning.objects.get(clinic=c).dispatch_rule_id
    assert events(user, "resume").count() == 1


def test_bulk_resume_skips_clinics_it_does_not_apply_to(client, clinics):
    user = login(client, "operator")
    services.clinic_suspend(clinic=clinics[0], actor=None)
    r = bulk(client, "resume", clinics[:2], confirm=False)
    page = r.content.decode()
    assert 'id="console-eligible"' in page and 'id="console-skipped"' in page
    r = bulk(client, "resume", clinics[:2], confirm=True)
    assert state(clinics[0])[0] == "live" and state(clinics[1])[0] == "live"
    assert events(user, "resume").count() == 1
    msgs = [m.message for m in r.wsgi_request._messages]
    assert any("1 clinic(s) skipped" in m for m in msgs)


def test_bulk_reprovision_verifies(client, clinics, no_broker):
    user = login(client, "operator")
    assert bulk(client, "reprovision_now", clinics, confirm=False).status_code == 200
    assert not events(user).exists()
    bulk(client, "reprovision_now", clinics, confirm=True)
    assert events(user, "re-provision requested").count() == 3
    assert {Provisioning.objects.get(clinic=c).state for c in clinics} == {"pending"}


def test_bulk_retry_only_touches_failed_or_retrying(client, clinics):
    user = login(client, "operator")
    Provisioning.objects.filter(clinic=clinics[0]).update(state="failed", generation=5, attempts=12)
    Provisioning.objects.filter(clinic=clinics[1]).update(
        state="retrying", generation=5, attempts=2
    )
    bulk(client, "retry_failed", clinics, confirm=False)
    bulk(client, "retry_failed", clinics, confirm=True)
    assert events(user).filter(action="retry_requested").count() == 2
    assert Provisioning.objects.get(clinic=clinics[0]).state == "pending"
    assert Provisioning.objects.get(clinic=clinics[0]).attempts == 0
    assert Provisioning.objects.get(clinic=clinics[2]).state == "active"


def test_bulk_offboard_deletes_upstream_and_releases_numbers(client, clinics, fake_gateway):
    user = login(client, "operator")
    c = clinics[0]
    bulk(client, "offboard", [c], confirm=False)
    assert state(c)[0] == "live"
    bulk(client, "offboard", [c], confirm=True)
    assert state(c) == ("offboarded", "deprovisioning")
    assert events(user, "offboard").count() == 1
    reconcile_clinic(c.pk)
    prov = Provisioning.objects.get(clinic=c)
    assert prov.state == "deprovisioned" and not prov.trunk_id and not prov.dispatch_rule_id
    assert c.phone_numbers.count() == 0


def test_bulk_is_capped(client, clinics, monkeypatch):
    import tenants.admin.console as tadmin

    login(client, "operator")
    monkeypatch.setattr(tadmin, "BULK_LIMIT", 2)
    r = bulk(client, "suspend", clinics, confirm=True)
    assert r.status_code == 302
    assert all(state(c)[0] == "live" for c in clinics)


# --- single clinic, from the change page -------------------------------------------------


@pytest.mark.parametrize("action", SINGLE)
def test_each_single_action_confirms_then_runs_through_the_service(client, clinics, action):
    user = login(client, "operator")
    c = clinics[0]
    if action == "resume":
        services.clinic_suspend(clinic=c, actor=None)
    if action == "retry":
        Provisioning.objects.filter(clinic=c).update(state="failed", generation=9)
    url = f"/admin/tenants/clinic/{c.pk}/console/{action}/"
    change = client.get(f"/admin/tenants/clinic/{c.pk}/change/").content.decode()
    assert url in change  # offered on the change page
    before = state(c)
    r = client.get(url)
    assert r.status_code == 200 and "are you sure?" in r.content.decode()
    assert state(c) == before
    r = client.post(url, {"post": "yes"})
    assert r.status_code == 302 and r["Location"].endswith(f"/{c.pk}/change/")
    expected = {
        "reprovision": ("live", "pending"),
        "retry": ("live", "pending"),
        "suspend": ("suspended", "pending"),
        "resume": ("live", "pending"),
        "offboard": ("offboarded", "deprovisioning"),
    }[action]
    assert state(c) == expected
    assert events(user).count() == 1


def test_an_action_that_does_not_apply_is_not_offered_and_does_nothing(client, clinics):
    login(client, "operator")
    c = clinics[0]
    page = client.get(f"/admin/tenants/clinic/{c.pk}/change/").content.decode()
    assert "/console/resume/" not in page
    client.post(f"/admin/tenants/clinic/{c.pk}/console/resume/", {"post": "yes"})
    assert state(c) == ("live", "active")


# --- groups -------------------------------------------------------------------------------


def test_the_migration_creates_both_groups():
    support = set(Group.objects.get(name="support").permissions.values_list("codename", flat=True))
    operator = set(
        Group.objects.get(name="operator").permissions.values_list("codename", flat=True)
    )
    assert {
        "view_clinic",
        "view_provisioning",
        "view_provisioningevent",
        "view_provisioning_plan",
    } <= support
    assert not {c for c in support if not c.startswith("view_")}
    assert support < operator
    assert "run_provisioning_actions" in operator and "run_provisioning_actions" not in support
    assert "view_token" not in support and "delete_clinic" not in operator


def test_support_sees_everything_and_can_dry_run(client, clinics):
    login(client, "support")
    c = clinics[0]
    for url in (
        CHANGELIST,
        f"/admin/tenants/clinic/{c.pk}/change/",
        f"/admin/tenants/clinic/{c.pk}/plan/",
        "/admin/telephony/provisioning/",
        "/admin/telephony/provisioningevent/",
        "/admin/telephony/upstreamstatus/",
        "/admin/telephony/orphanobject/",
        "/admin/ops/",
    ):
        assert client.get(url).status_code == 200, url
    page = client.get(CHANGELIST).content.decode()
    assert 'value="dry_run_plan"' in page
    assert not [a for a in MUTATING if f'value="{a}"' in page]
    r = client.post(CHANGELIST, {"action": "dry_run_plan", "_selected_action": [str(c.pk)]})
    assert r.status_code == 200 and "Dry-run plan" in r.content.decode()


def test_support_never_sees_the_sip_password(client, clinics):
    login(client, "support")
    c = clinics[0]
    services.trunk_settings_update(
        clinic=c, auth_username="u", auth_password="supp0rt-must-not-see"
    )
    page = client.get(f"/admin/tenants/clinic/{c.pk}/change/").content.decode()
    assert "supp0rt-must-not-see" not in page
    assert "set (hidden)" in page


@pytest.mark.parametrize("action", MUTATING)
def test_support_is_refused_every_mutating_bulk_action(client, clinics, action):
    user = login(client, "support")
    services.clinic_suspend(clinic=clinics[1], actor=None)
    Provisioning.objects.filter(clinic=clinics[0]).update(state="failed")
    before = [state(c) for c in clinics]
    for confirm in (False, True):
        r = bulk(client, action, clinics, confirm=confirm)
        assert r.status_code in (302, 403)
    assert [state(c) for c in clinics] == before
    assert not events(user).exists()


@pytest.mark.parametrize("action", SINGLE)
def test_support_is_refused_every_single_action(client, clinics, action):
    user = login(client, "support")
    c = clinics[0]
    url = f"/admin/tenants/clinic/{c.pk}/console/{action}/"
    assert client.get(url).status_code == 403
    assert client.post(url, {"post": "yes"}).status_code == 403
    assert state(c) == ("live", "active")
    assert not events(user).exists()


def test_support_cannot_edit_or_clear_the_circuit(client, clinics):
    from telephony.models import UpstreamStatus

    login(client, "support")
    c = clinics[0]
    r = client.post(f"/admin/tenants/clinic/{c.pk}/change/", {"name": "Renamed"})
    assert r.status_code == 403
    UpstreamStatus.objects.update_or_create(pk=1, defaults={"auth_failed_fingerprint": "abc"})
    client.post(
        "/admin/telephony/upstreamstatus/",
        {"action": "clear_auth_circuit", "_selected_action": ["1"]},
    )
    assert UpstreamStatus.objects.get(pk=1).auth_failed_fingerprint == "abc"


def test_operator_can_clear_the_circuit(client, clinics):
    from telephony.models import UpstreamStatus

    login(client, "operator")
    UpstreamStatus.objects.update_or_create(pk=1, defaults={"auth_failed_fingerprint": "abc"})
    client.post(
        "/admin/telephony/upstreamstatus/",
        {"action": "clear_auth_circuit", "_selected_action": ["1"]},
    )
    assert UpstreamStatus.objects.get(pk=1).auth_failed_fingerprint == ""


def test_staff_without_a_group_sees_nothing(client, clinics):
    client.force_login(UserFactory(is_staff=True))
    assert client.get(CHANGELIST).status_code == 403
    assert client.get("/admin/ops/").status_code == 403
    assert client.get(f"/admin/tenants/clinic/{clinics[0].pk}/plan/").status_code == 403


def test_a_malformed_clinic_id_is_a_404(client, clinics):
    login(client, "operator")
    assert client.get("/admin/tenants/clinic/not-a-uuid/plan/").status_code == 404
    assert client.get("/admin/tenants/clinic/not-a-uuid/console/suspend/").status_code == 404
