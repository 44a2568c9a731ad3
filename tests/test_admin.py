"""Staff console, clinic list and change page: cost, filters, search, what is shown."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from telephony import services
from telephony.models import (
    PhoneNumber,
    Provisioning,
    ProvisioningEvent,
    Receptionist,
    TrunkSettings,
    UpstreamStatus,
)
from telephony.provisioning.reconcile import reconcile_clinic
from tenants.admin.clinics import nothing_upstream
from tenants.admin.filters import EstimatedCountPaginator
from tenants.models import Clinic
from tests.console import bulk_clinics, row_ids, staff_in
from tests.factories import UserFactory, make_clinic

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/tenants/clinic/"


@pytest.fixture
def staff(client):
    user = staff_in(None, email="ops@switchboard.example")
    client.force_login(user)
    return user


@pytest.fixture
def live(owner, fake_gateway):
    """A live clinic reconciled against the fake LiveKit, with a SIP password."""
    clinic = make_clinic(owner, "Bright Smile Dental")
    services.phone_number_add(clinic=clinic, number="+14155550101")
    services.trunk_settings_update(
        clinic=clinic,
        allowed_addresses=["10.0.0.0/8"],
        auth_username="u",
        auth_password="adm1n-secret-pw",
    )
    services.clinic_go_live(clinic=clinic, actor=owner)
    assert reconcile_clinic(clinic.pk).outcome == "converged"
    return clinic


def queries(client, params=None) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as ctx:
        r = client.get(CHANGELIST, params or {})
        assert r.status_code == 200
    return len(ctx.captured_queries), row_ids(r.content.decode())


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"q": "Bulk"},
        {"provisioning": "active", "failed_since": "week"},
        {"drift": "unrepaired"},
    ],
)
def test_the_changelist_costs_the_same_for_10_and_200_clinics(client, staff, params):
    bulk_clinics(10)
    few, rows = queries(client, params)
    assert len(rows) == (10 if not params.get("failed_since") and not params.get("drift") else 0)
    bulk_clinics(190)
    many, rows = queries(client, params)
    assert many == few, f"{few} queries for 10 clinics, {many} for 200"
    assert few <= 8


def test_the_changelist_shows_the_provisioning_columns(client, staff):
    (clinic,) = bulk_clinics(1)
    now = timezone.now()
    Provisioning.objects.filter(clinic=clinic).update(
        state="retrying",
        attempts=3,
        last_error="LiveKit is temporarily unavailable",
        next_attempt_at=now,
        last_synced_at=now,
    )
    page = client.get(CHANGELIST).content.decode()
    for text in (
        "Retrying",
        "ST_",
        "SDR_",
        "LiveKit is temporarily unavailable",
        "Last synced",
        "Next attempt",
    ):
        assert text in page
    assert '<td class="field-numbers">2</td>' in page


def test_an_unfiltered_page_uses_the_row_estimate_not_count(client, staff, monkeypatch):
    bulk_clinics(30)
    with connection.cursor() as cur:
        cur.execute("ANALYZE tenants_clinic")
    monkeypatch.setattr(EstimatedCountPaginator, "ESTIMATE_ABOVE", 5)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(CHANGELIST).status_code == 200
    sql = [q["sql"] for q in ctx.captured_queries]
    assert not [s for s in sql if "COUNT(*)" in s.upper()], sql
    assert any("reltuples" in s for s in sql)
    # A filtered list is counted exactly: it is the one an operator acts on.
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(CHANGELIST, {"state": "live"}).status_code == 200
    assert any("COUNT(*)" in q["sql"].upper() for q in ctx.captured_queries)


def test_search_by_a_number_lists_the_clinic_once(client, staff):
    a, b = bulk_clinics(2, numbers_each=0)
    numbers = ["+14155550201", "+14155550202", "+14155550203"]
    line_a, line_b = (Receptionist.objects.first_of(c) for c in (a, b))
    PhoneNumber.objects.bulk_create(
        [PhoneNumber(clinic=a, receptionist=line_a, e164=n) for n in numbers]
    )
    PhoneNumber.objects.create(clinic=b, receptionist=line_b, e164="+16505550999")
    with CaptureQueriesContext(connection) as ctx:
        _, rows = queries(client, {"q": "+1415555020"})  # matches all three of a's numbers
    assert rows == [str(a.pk)]
    # One row per clinic by construction (EXISTS), not a DISTINCT over every joined row.
    assert not [q for q in ctx.captured_queries if "DISTINCT" in q["sql"]]
    _, rows = queries(client, {"q": "+16505550999"})
    assert rows == [str(b.pk)]


def test_search_by_trunk_rule_slug_and_name(client, staff):
    a, b = bulk_clinics(2)
    pa = Provisioning.objects.get(clinic=a)
    pb = Provisioning.objects.get(clinic=b)
    assert queries(client, {"q": pa.trunk_id})[1] == [str(a.pk)]
    assert queries(client, {"q": pb.dispatch_rule_id})[1] == [str(b.pk)]
    assert queries(client, {"q": b.slug})[1] == [str(b.pk)]
    assert queries(client, {"q": f'"{a.name}"'})[1] == [str(a.pk)]  # quoted: one phrase


def test_filters_by_state_provisioning_state_and_failed_since(client, staff):
    _a, b, c = bulk_clinics(3)
    Provisioning.objects.filter(clinic=b).update(state="failed")
    c.state = "suspended"
    c.save()
    ProvisioningEvent.objects.create(
        clinic=b, action="create_trunk", outcome="error", detail="boom"
    )
    old = ProvisioningEvent.objects.create(clinic=c, action="create_trunk", outcome="error")
    ProvisioningEvent.objects.filter(pk=old.pk).update(at=timezone.now() - timedelta(days=3))

    assert queries(client, {"provisioning": "failed"})[1] == [str(b.pk)]
    assert queries(client, {"state": "suspended"})[1] == [str(c.pk)]
    assert queries(client, {"failed_since": "hour"})[1] == [str(b.pk)]
    assert queries(client, {"failed_since": "day"})[1] == [str(b.pk)]
    assert sorted(queries(client, {"failed_since": "week"})[1]) == sorted([str(b.pk), str(c.pk)])


def test_the_drift_filter(client, staff):
    _a, b, c = bulk_clinics(3)
    now = timezone.now()
    # b: found by the last scan, not repaired. c: found by an earlier scan, repaired since.
    ProvisioningEvent.objects.create(clinic=b, action="drift_detected", detail="trunk missing")
    ev = ProvisioningEvent.objects.create(clinic=c, action="drift_detected", detail="rule changed")
    ProvisioningEvent.objects.filter(pk=ev.pk).update(at=now - timedelta(hours=2))
    Provisioning.objects.filter(clinic=c).update(converged_at=now - timedelta(hours=1))
    Provisioning.objects.filter(clinic=b).update(converged_at=now - timedelta(hours=5))
    assert queries(client, {"drift": "last_scan"})[1] == []  # no scan has run
    UpstreamStatus.objects.update_or_create(
        pk=1,
        defaults={
            "last_drift_scan_at": timezone.now(),
            "last_drift_scan": {
                "started_at": (now - timedelta(minutes=1)).isoformat(),
                "drift_count": 1,
            },
        },
    )
    assert queries(client, {"drift": "last_scan"})[1] == [str(b.pk)]
    assert queries(client, {"drift": "unrepaired"})[1] == [str(b.pk)]
    assert sorted(queries(client, {"drift": "day"})[1]) == sorted([str(b.pk), str(c.pk)])


# --- the change page ----------------------------------------------------------------------


def test_the_change_page_shows_desired_next_to_observed(client, staff, live, fake_gateway):
    prov = Provisioning.objects.get(clinic=live)
    r = client.get(f"/admin/tenants/clinic/{live.pk}/change/")
    page = r.content.decode()
    assert r.status_code == 200
    assert "adm1n-secret-pw" not in page
    assert "•••••• (set)" in page
    assert prov.trunk_id in page and prov.dispatch_rule_id in page
    assert "Inbound trunk" in page and ": in sync" in page
    assert "+14155550101" in page and live.room_prefix in page
    assert "Provisioning timeline (newest first)" in page  # the event inline
    assert "Calls" not in page.split("livekit-objects")[1].split("</fieldset>")[0]

    fake_gateway.tamper_trunk(prov.trunk_id, numbers=("+14155550199",), auth_password="other")
    page = client.get(f"/admin/tenants/clinic/{live.pk}/change/").content.decode()
    assert "<strong>differs</strong>" in page
    assert "+14155550199" in page
    assert "other" not in page.split("livekit-objects")[1].split("</fieldset>")[0]


def test_the_change_page_renders_when_livekit_is_unreachable(client, staff, live, settings):
    settings.LIVEKIT_GATEWAY = "telephony.livekit_gateway.LiveKitGateway"
    settings.LIVEKIT_URL = "http://127.0.0.1:1"
    r = client.get(f"/admin/tenants/clinic/{live.pk}/change/")
    assert r.status_code == 200
    assert "LiveKit could not be read" in r.content.decode()


def test_the_sip_password_is_never_rendered_and_stays_when_left_blank(client, staff, live):
    page = client.get(f"/admin/tenants/clinic/{live.pk}/change/").content.decode()
    assert "adm1n-secret-pw" not in page
    assert TrunkSettings.objects.get(clinic=live).auth_password == "adm1n-secret-pw"


def _change_form_data(client, clinic, **overrides):
    """The change form as the browser would post it (management forms included)."""
    r = client.get(f"/admin/tenants/clinic/{clinic.pk}/change/")
    ctx = r.context
    data = {}
    form = ctx["adminform"].form
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if value is not None:
            data[name] = value
    for fs in ctx["inline_admin_formsets"]:
        formset = fs.formset
        mgmt = formset.management_form
        for name in mgmt.fields:
            data[f"{mgmt.prefix}-{name}"] = (
                mgmt.initial.get(name, 0) if name != "TOTAL_FORMS" else formset.total_form_count()
            )
        for f in formset.forms:
            for name, field in f.fields.items():
                value = f.initial.get(name, field.initial)
                key = f.add_prefix(name)
                if isinstance(value, bool):
                    if value:
                        data[key] = "on"
                elif isinstance(value, list):
                    data[key] = json.dumps(value)
                elif value is not None:
                    data[key] = getattr(value, "pk", value)
    data.update(overrides)
    return data


def test_editing_carrier_and_agent_settings_goes_through_the_services(client, staff, live):
    gen = Provisioning.objects.get(clinic=live).generation
    version = Receptionist.objects.get(clinic=live).version
    data = _change_form_data(
        client,
        live,
        **{
            "trunk_settings-0-allowed_addresses": '["192.0.2.0/24"]',
            "receptionists-0-greeting": "Hello from the console.",
        },
    )
    r = client.post(f"/admin/tenants/clinic/{live.pk}/change/", data)
    assert r.status_code == 302, r.context["errors"] if r.context else r
    ts = TrunkSettings.objects.get(clinic=live)
    assert ts.allowed_addresses == ["192.0.2.0/24"]
    assert ts.auth_password == "adm1n-secret-pw"  # blank field: kept
    assert Receptionist.objects.get(clinic=live).version == version + 1
    assert Provisioning.objects.get(clinic=live).generation == gen + 2
    assert Provisioning.objects.get(clinic=live).state == "pending"


def test_staff_add_a_receptionist_and_move_a_number_through_the_services(client, staff, live):
    from telephony.receptionists import receptionist_create

    billing = receptionist_create(clinic=live, name="Billing")
    gen = Provisioning.objects.get(clinic=live).generation
    data = _change_form_data(client, live, **{"phone_numbers-0-receptionist": str(billing.pk)})
    r = client.post(f"/admin/tenants/clinic/{live.pk}/change/", data)
    assert r.status_code == 302, r.context["errors"] if r.context else r
    assert PhoneNumber.objects.get(e164="+14155550101").receptionist == billing
    assert Provisioning.objects.get(clinic=live).generation == gen + 1


def test_staff_delete_a_receptionist_and_its_numbers_move(client, staff, live):
    from telephony.receptionists import receptionist_create

    billing = receptionist_create(clinic=live, name="Billing")
    data = _change_form_data(client, live, **{"receptionists-0-DELETE": "on"})
    r = client.post(f"/admin/tenants/clinic/{live.pk}/change/", data)
    assert r.status_code == 302, r.context["errors"] if r.context else r
    assert list(Receptionist.objects.filter(clinic=live)) == [billing]
    assert PhoneNumber.objects.get(e164="+14155550101").receptionist == billing


def test_staff_cannot_delete_the_last_receptionist(client, staff, live):
    data = _change_form_data(client, live, **{"receptionists-0-DELETE": "on"})
    r = client.post(f"/admin/tenants/clinic/{live.pk}/change/", data)
    assert r.status_code == 200  # the form again, with the error
    assert "A clinic needs at least one receptionist." in r.content.decode(), r.context["errors"]
    assert Receptionist.objects.filter(clinic=live).count() == 1


def test_a_bad_address_is_a_form_error_not_a_500(client, staff, live):
    data = _change_form_data(
        client, live, **{"trunk_settings-0-allowed_addresses": '["10.0.0.0/99"]'}
    )
    r = client.post(f"/admin/tenants/clinic/{live.pk}/change/", data)
    assert r.status_code == 200
    assert TrunkSettings.objects.get(clinic=live).allowed_addresses == ["10.0.0.0/8"]


def test_clinics_cannot_be_added_in_admin(client, staff):
    assert client.get("/admin/tenants/clinic/add/").status_code == 403


def test_non_staff_cannot_open_admin(client):
    client.force_login(UserFactory())
    assert client.get(CHANGELIST).status_code == 302
    assert client.get("/admin/ops/").status_code == 302


def test_support_sees_the_call_log_and_the_clinic_calls_panel(client):
    from django.contrib.auth.models import Group

    from telephony.models import Call

    user = UserFactory(email="support2@switchboard.example", is_staff=True)
    user.groups.add(Group.objects.get(name="support"))
    clinic = make_clinic(UserFactory(), "Calls Clinic")
    Call.objects.create(
        clinic=clinic,
        room_sid="RM_test1",
        room_name=f"{clinic.room_prefix}_4567_abc",
        caller_last4="4567",
        mapped_by="room_prefix",
    )
    client.force_login(user)
    assert client.get("/admin/telephony/call/").status_code == 200
    page = client.get(f"/admin/tenants/clinic/{clinic.pk}/change/").content.decode()
    assert "***4567" in page and f"{clinic.room_prefix}_4567_abc" in page


def test_a_live_clinic_cannot_be_deleted_only_offboarded(client, staff, live, owner):
    """Deleting the row would leave its LiveKit objects with nothing to name them."""
    changelist = client.get(CHANGELIST)
    assert "delete_selected" not in changelist.content.decode()
    assert client.get(f"{CHANGELIST}{live.pk}/delete/").status_code == 403
    assert client.post(f"{CHANGELIST}{live.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Clinic.objects.filter(pk=live.pk).exists()
    assert not nothing_upstream(live)

    draft = make_clinic(owner, "Never Live Dental")
    assert nothing_upstream(draft)

    services.clinic_offboard(clinic=live, actor=owner)
    live.refresh_from_db()
    assert not nothing_upstream(live)  # offboarded, its objects not deleted yet
    reconcile_clinic(live.pk)
    live.refresh_from_db()
    assert live.provisioning.state == Provisioning.State.DEPROVISIONED
    assert nothing_upstream(live)
