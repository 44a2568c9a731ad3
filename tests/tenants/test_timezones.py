"""Time zones: the canonical list, aliases, each zone's country, and every time on a
clinic's pages shown in the clinic's zone with its abbreviation (across a DST change)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from telephony.models import Call, Provisioning, ProvisioningEvent, TestCall
from tenants import timezones
from tenants.models import Clinic, Invitation
from tenants.services import clinic_create, clinic_update, user_signup
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

# 2026-03-08: the US moves its clocks forward at 2:00 local time (07:00 UTC in New York).
BEFORE_DST = datetime(2026, 3, 8, 6, 30, tzinfo=UTC)  # 1:30 AM EST
AFTER_DST = datetime(2026, 3, 8, 7, 30, tzinfo=UTC)  # 3:30 AM EDT


# --- the list ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("America/New_York", "America/New_York"),
        ("US/Eastern", "America/New_York"),
        ("Asia/Calcutta", "Asia/Kolkata"),
        ("Europe/Kiev", "Europe/Kyiv"),
        ("Australia/ACT", "Australia/Sydney"),
        ("UTC", "UTC"),
        ("Etc/UTC", "UTC"),
        (" Europe/Berlin ", "Europe/Berlin"),
        ("Mars/Olympus", None),
        ("", None),
        (None, None),
        ("\ud800", None),
    ],
)
def test_canonical_maps_aliases_to_the_zone_they_stand_for(name, expected):
    assert timezones.canonical(name) == expected


def test_the_picker_offers_canonical_zones_common_first_without_duplicates():
    (common_label, common), (all_label, everything) = timezones.choices()
    assert (common_label, all_label) == ("Common time zones", "All time zones, by country")
    assert common[0][0] == "America/New_York" and "Eastern Time" in common[0][1]
    values = [value for value, _ in everything]
    assert len(values) == len(set(values))
    assert "US/Eastern" not in values and "Asia/Calcutta" not in values
    assert {"America/New_York", "Europe/London", "Asia/Kolkata", "UTC"} <= set(values)
    assert all(timezones.canonical(v) == v for v in values)
    assert all(value in values for value, _ in common)
    labels = dict(everything)
    assert labels["America/New_York"] == "New York, United States (America/New_York)"
    assert 300 < len(values) < 554  # the old list had 554 entries, aliases included


@pytest.mark.parametrize(
    ("zone", "country"),
    [
        ("America/Los_Angeles", "US"),
        ("US/Pacific", "US"),
        ("Europe/London", "GB"),
        ("Australia/Sydney", "AU"),
        ("America/Toronto", "CA"),
        ("UTC", None),
        ("Nowhere/Special", None),
    ],
)
def test_each_zone_names_its_country(zone, country):
    assert timezones.country_for_zone(zone) == country


@pytest.mark.parametrize(
    ("zone", "said"),
    [
        ("America/New_York", "Eastern Time (US and Canada)"),
        ("Europe/Lisbon", "Lisbon, Portugal"),
        ("UTC", "UTC (no daylight saving)"),
        ("Nowhere/Special", "Nowhere/Special"),
    ],
)
def test_a_zone_is_named_as_people_say_it(zone, said):
    assert timezones.zone_name(zone) == said


def test_services_store_the_canonical_zone_and_refuse_unknown_ones(owner):
    clinic = clinic_create(owner=owner, name="Alias Dental", timezone_name="US/Central")
    assert clinic.timezone == "America/Chicago"
    clinic_update(clinic=clinic, timezone_name="Asia/Calcutta")
    assert Clinic.objects.get(pk=clinic.pk).timezone == "Asia/Kolkata"
    with pytest.raises(Exception) as excinfo:
        clinic_update(clinic=clinic, timezone_name="Mars/Olympus")
    assert "timezone" in excinfo.value.message_dict
    assert Clinic.objects.get(pk=clinic.pk).timezone == "Asia/Kolkata"


# --- the browser's zone at signup -----------------------------------------------------------


@pytest.mark.parametrize(
    ("reported", "stored"),
    [
        ("America/Denver", "America/Denver"),
        ("Asia/Calcutta", "Asia/Kolkata"),
        ("", "UTC"),  # no JavaScript
        ("Not/AZone", "UTC"),  # a zone we do not know does not fail the signup
    ],
)
def test_signup_starts_the_clinic_in_the_browsers_zone(client, reported, stored):
    response = client.post(
        reverse("tenants:signup"),
        {
            "email": f"tz-{len(reported)}@example.org",
            "password": "a-Long-passw0rd!",
            "clinic_name": "Zone Dental",
            "timezone_name": reported,
        },
    )
    assert response.status_code == 302
    assert Clinic.objects.get(name="Zone Dental").timezone == stored


def test_the_signup_page_sends_the_browsers_zone_from_a_static_script(client):
    body = client.get(reverse("tenants:signup")).content.decode()
    assert 'name="timezone_name"' in body and "data-browser-tz" in body
    assert "js/signup.js" in body and "<script>" not in body  # no inline script (CSP)


def test_user_signup_service_takes_the_zone(db):
    _, clinic = user_signup(
        email="svc@example.org",
        password="a-Long-passw0rd!",
        clinic_name="Service Dental",
        timezone_name="Europe/Paris",
    )
    assert clinic.timezone == "Europe/Paris"


# --- times shown in the clinic's zone ------------------------------------------------------


@pytest.fixture
def ny_clinic(clinic):
    clinic_update(clinic=clinic, timezone_name="America/New_York")
    Clinic.objects.filter(pk=clinic.pk).update(state=Clinic.State.LIVE)
    clinic.refresh_from_db()
    return clinic


def test_the_dashboard_shows_every_time_in_the_clinics_zone_across_a_dst_change(
    client, owner, ny_clinic
):
    for i, at in enumerate((BEFORE_DST, AFTER_DST)):
        Call.objects.create(
            clinic=ny_clinic,
            room_sid=f"RM_{i}",
            room_name=f"{ny_clinic.room_prefix}_{i}",
            mapped_by="trunk",
            started_at=at,
        )
    event = ProvisioningEvent.objects.create(clinic=ny_clinic, action="converged")
    ProvisioningEvent.objects.filter(pk=event.pk).update(at=AFTER_DST)
    test_call = TestCall.objects.create(
        clinic=ny_clinic, mode="emulator", number="+14155550100", passed=True, outcome="dispatch"
    )
    TestCall.objects.filter(pk=test_call.pk).update(created_at=BEFORE_DST)
    Provisioning.objects.for_clinic(ny_clinic).update(
        state=Provisioning.State.RETRYING,
        last_error="x",
        attempts=1,
        next_attempt_at=AFTER_DST + timedelta(seconds=5),
    )
    client.force_login(owner)

    body = client.get(reverse("tenants:dashboard", args=[ny_clinic.slug])).content.decode()

    assert "Mar 8, 1:30:00 AM EST" in body  # the call before the change
    assert "Mar 8, 3:30:00 AM EDT" in body  # the call and the event after it
    assert "(Mar 8, 1:30 AM EST)" in body  # the checklist's test call
    assert "Next try at Mar 8, 3:30:05 AM EDT." in body
    assert "time zone: Eastern Time (US and Canada)." in body
    assert " UTC" not in body.replace("(UTC)", "")

    status = client.get(reverse("tenants:status", args=[ny_clinic.slug])).json()
    assert status["events"][0]["at_text"] == "Mar 8, 3:30:00 AM EDT"
    assert status["next_attempt_text"] == "Mar 8, 3:30:05 AM EDT"
    test_item = next(i for i in status["checklist"] if i["key"] == "test_call")
    assert test_item["at_text"] == "Mar 8, 1:30 AM EST"


def test_invitations_expire_in_the_clinics_zone(client, owner, ny_clinic, invite):
    invitation, _ = invite("later@example.org")
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=AFTER_DST)
    client.force_login(owner)
    body = client.get(reverse("tenants:team", args=[ny_clinic.slug])).content.decode()
    assert "expired Mar 8, 3:30 AM EDT" in body  # (in the past by now)


def test_another_clinic_in_another_zone_sees_its_own_time(client, ny_clinic):
    owner = UserFactory()
    berlin = clinic_create(owner=owner, name="Zahnarzt Mitte", timezone_name="Europe/Berlin")
    Call.objects.create(
        clinic=berlin, room_sid="RM_b", room_name="b_1", mapped_by="trunk", started_at=AFTER_DST
    )
    client.force_login(owner)
    body = client.get(reverse("tenants:dashboard", args=[berlin.slug])).content.decode()
    assert "Mar 8, 8:30:00 AM CET" in body


def test_the_api_keeps_utc_timestamps(client, owner, ny_clinic):
    Call.objects.create(
        clinic=ny_clinic, room_sid="RM_a", room_name="a_1", mapped_by="trunk", started_at=AFTER_DST
    )
    client.force_login(owner)
    data = client.get(f"/api/v1/clinics/{ny_clinic.slug}/calls/").json()
    calls = data["results"] if isinstance(data, dict) else data
    assert calls[0]["started_at"] in ("2026-03-08T07:30:00Z", "2026-03-08T07:30:00+00:00")


def test_the_details_page_offers_the_searchable_picker(client, owner, clinic):
    client.force_login(owner)
    body = client.get(reverse("tenants:setup", args=[clinic.slug, "details"])).content.decode()
    assert "data-tz-picker" in body and "js/tzpicker.js" in body
    assert body.index('label="Common time zones"') < body.index('label="All time zones')
    assert "US/Eastern" not in body
