"""Dashboard: go-live checklist, call log; the test call page (access and validation)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from telephony.models import Call, Provisioning, TestCall
from tenants.models import Clinic
from tests.tenants.web_helpers import dashboard_url

pytestmark = pytest.mark.django_db


def login(user):
    client = Client()
    client.force_login(user)
    return client


def test_call_url(clinic):
    return reverse("tenants:test_call", args=[clinic.slug])


test_call_url.__test__ = False


def checklist(response):
    return {item.key: item for item in response.context["checklist"]}


def test_a_new_clinic_has_a_checklist_to_work_through(clinic, owner):
    r = login(owner).get(dashboard_url(clinic))
    items = checklist(r)
    assert list(items) == [
        "numbers",
        "carrier",
        "agent",
        "provisioning",
        "carrier_connected",
        "test_call",
        "first_call",
    ]
    assert items["agent"].done  # the default receptionist settings from signup
    assert not any(
        items[k].done
        for k in ("numbers", "provisioning", "carrier_connected", "test_call", "first_call")
    )
    html = r.content.decode()
    assert "Go-live checklist" in html and "No calls yet" in html


def test_checklist_marks_test_call_and_only_a_real_first_call(clinic, owner):
    Clinic.objects.filter(pk=clinic.pk).update(state=Clinic.State.LIVE)
    Provisioning.objects.filter(clinic=clinic).update(
        state="active", generation=2, observed_generation=2
    )
    TestCall.objects.create(
        clinic=clinic, mode="emulator", number="+14155550100", outcome="dispatch", passed=True
    )
    Call.objects.create(
        clinic=clinic, room_sid="RM_t", room_name="t_1", mapped_by="trunk", is_test=True
    )
    items = checklist(login(owner).get(dashboard_url(clinic)))
    assert items["provisioning"].done and items["test_call"].done
    assert not items["first_call"].done  # a test call is not a real call
    Call.objects.create(
        clinic=clinic,
        room_sid="RM_r",
        room_name="r_1",
        mapped_by="trunk",
        caller_last4="9876",
        status="completed",
        duration_seconds=12,
    )
    r = login(owner).get(dashboard_url(clinic))
    assert checklist(r)["first_call"].done
    html = r.content.decode()
    assert "***9876" in html and "12 s" in html and "Test" in html


def test_a_failed_last_test_call_is_shown_as_to_do(clinic, owner):
    TestCall.objects.create(
        clinic=clinic,
        mode="dry_run",
        number="+14155550100",
        outcome="no_trunk",
        passed=False,
        detail="No trunk.",
    )
    item = checklist(login(owner).get(dashboard_url(clinic)))["test_call"]
    assert not item.done and "found a problem" in item.detail


def test_the_dashboard_shows_only_this_clinics_calls(clinic, owner, outsider):
    other = Clinic.objects.exclude(pk=clinic.pk).get()
    Call.objects.create(
        clinic=other, room_sid="RM_o", room_name="other_room_name", mapped_by="trunk"
    )
    html = login(owner).get(dashboard_url(clinic)).content.decode()
    assert "other_room_name" not in html


def test_test_call_page_access(clinic, viewer, outsider):
    page = login(viewer).get(test_call_url(clinic))
    assert page.status_code == 200 and "Only owners and admins" in page.content.decode()
    assert login(outsider).get(test_call_url(clinic)).status_code == 404


def test_viewers_cannot_run_a_test_call(clinic, viewer):
    assert login(viewer).post(test_call_url(clinic), {"from": "+14155559876"}).status_code == 403


def test_the_form_names_a_bad_number(clinic, admin_member):
    r = login(admin_member).post(test_call_url(clinic), {"from": "call me"})
    assert r.status_code == 400
    assert "international format" in r.content.decode()
    assert not TestCall.objects.exists()
