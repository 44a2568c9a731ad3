"""The hours, clinic-info and after-hours pages: plain forms that save through the services,
errors on the field that caused them, read-only for viewers."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from frontdesk.models import AfterHours, FrontDesk
from telephony.models import Receptionist
from telephony.receptionists import receptionist_create

pytestmark = pytest.mark.django_db


def login(user):
    client = Client()
    client.force_login(user)
    return client


def _hours_form(**extra):
    data = {"timezone": "America/Chicago", "closures": ""}
    data.update(extra)
    return data


def test_owner_sets_weekly_hours_with_a_lunch_break_and_a_holiday(clinic, owner):
    url = reverse("frontdesk:hours", args=[clinic.slug])
    r = login(owner).post(
        url,
        _hours_form(
            d0_0_opens="08:30",
            d0_0_closes="12:00",
            d0_1_opens="13:00",
            d0_1_closes="17:30",
            d5_0_opens="09:00",
            d5_0_closes="13:00",
            closures="2026-12-25 Christmas Day\n\n2026-12-26",
        ),
    )
    assert r.status_code == 302 and r["Location"] == url
    desk = FrontDesk.objects.get(clinic=clinic)
    assert desk.weekly == [
        {"day": 0, "opens": 510, "closes": 720},
        {"day": 0, "opens": 780, "closes": 1050},
        {"day": 5, "opens": 540, "closes": 780},
    ]
    assert desk.closures == [
        {"date": "2026-12-25", "reason": "Christmas Day"},
        {"date": "2026-12-26", "reason": ""},
    ]
    clinic.refresh_from_db()
    assert clinic.timezone == "America/Chicago"
    page = login(owner).get(url).content.decode()
    assert 'value="08:30"' in page and "2026-12-25 Christmas Day" in page


def test_inverted_hours_show_the_error_on_that_day_and_save_nothing(clinic, owner):
    url = reverse("frontdesk:hours", args=[clinic.slug])
    r = login(owner).post(url, _hours_form(d2_0_opens="17:00", d2_0_closes="09:00"))
    assert r.status_code == 200
    errors = r.context["form"].errors
    assert "d2_0_closes" in errors and "Wednesday" in errors["d2_0_closes"][0]
    assert not FrontDesk.objects.filter(clinic=clinic).exists()


def test_a_bad_closure_line_is_named_by_its_line_number(clinic, owner):
    url = reverse("frontdesk:hours", args=[clinic.slug])
    r = login(owner).post(url, _hours_form(closures="2026-12-25 Christmas\nChristmas Eve"))
    assert r.status_code == 200
    assert r.context["form"].errors["closures"][0].startswith("Line 2:")


def test_a_viewer_sees_the_hours_but_cannot_save(clinic, viewer):
    url = reverse("frontdesk:hours", args=[clinic.slug])
    page = login(viewer).get(url)
    assert page.status_code == 200 and b"hours-form" not in page.content
    assert login(viewer).post(url, _hours_form()).status_code == 403


def test_owner_fills_in_what_the_receptionist_knows(clinic, owner):
    url = reverse("frontdesk:clinic_info", args=[clinic.slug])
    r = login(owner).post(
        url,
        {
            "address": "12 High Street",
            "directions": "Parking behind the building.",
            "services": "Check-ups\nWhitening\n",
            "insurers": "Delta Dental",
            "languages": "English\nSpanish",
            "emergency_number": "+1 415 555 0100",
            "faqs": "Q: Do you see children?\nA: Yes, from age 3.\n\nQ: Is there parking?\n"
            "A: Yes, behind the building.",
        },
    )
    assert r.status_code == 302
    desk = FrontDesk.objects.get(clinic=clinic)
    assert desk.services == ["Check-ups", "Whitening"]
    assert desk.emergency_number == "+14155550100"
    assert desk.faqs[1] == {"question": "Is there parking?", "answer": "Yes, behind the building."}


def test_a_question_without_an_answer_is_refused_on_the_field(clinic, owner):
    url = reverse("frontdesk:clinic_info", args=[clinic.slug])
    r = login(owner).post(url, {"faqs": "Q: Do you see children?"})
    assert r.status_code == 200 and "faqs" in r.context["form"].errors


def test_owner_routes_a_line_to_another_receptionist_when_closed(clinic, owner):
    first = Receptionist.objects.first_of(clinic)
    night = receptionist_create(clinic=clinic, name="Night line")
    url = reverse("frontdesk:after_hours", args=[clinic.slug, first.pk])
    r = login(owner).post(url, {"action": "route", "route_to": "", "greeting": ""})
    assert r.status_code == 200 and "route_to" in r.context["form"].errors
    r = login(owner).post(
        url, {"action": "route", "route_to": str(night.pk), "greeting": "We are closed."}
    )
    assert r.status_code == 302
    row = AfterHours.objects.get(receptionist=first)
    assert row.route_to_id == night.pk and row.greeting == "We are closed."
