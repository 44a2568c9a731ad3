"""Locations (issue 15): the API and its checks, a receptionist naming one, the agent config
answering with the location's facts and deciding open or closed from its own hours (ETag
included, on both the view and the pickup 304), and the web pages."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from audit.models import AuditEntry
from frontdesk import config as call_time_config
from frontdesk.models import Location
from telephony.agent_tokens import agent_token_create
from telephony.api.agent import AgentConfigApi
from telephony.models import Receptionist
from telephony.receptionists import receptionist_create
from tenants.models import Clinic
from tests.api_helpers import api_as, clinic_url
from tests.factories import UserFactory, make_clinic

pytestmark = pytest.mark.django_db
NY = ZoneInfo("America/New_York")
CLINIC_HOURS = {
    "timezone": "America/New_York",
    "weekly": [{"day": d, "opens": "09:00", "closes": "17:00"} for d in range(5)],
    "closures": [],
}
# Downtown is on Pacific time, open evenings, and closed on 3 December.
DOWNTOWN_HOURS = {
    "timezone": "America/Los_Angeles",
    "weekly": [{"day": d, "opens": "12:00", "closes": "20:00"} for d in range(5)],
    "closures": [{"date": "2026-12-03", "reason": "Staff training"}],
}
DOWNTOWN = {
    "name": "Downtown",
    "address": "400 Market Street, San Francisco",
    "directions": "Second floor, lift by the pharmacy.",
    "hours": DOWNTOWN_HOURS,
}


def _live(clinic):
    Clinic.objects.filter(pk=clinic.pk).update(state=Clinic.State.LIVE)
    clinic.refresh_from_db()
    return clinic


@pytest.fixture
def agent():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {agent_token_create(name='a')[1]}")
    return client


def _config(agent, clinic, receptionist, **headers):
    query = {"clinic": str(clinic.pk), "receptionist": str(receptionist.pk)}
    return agent.get("/api/v1/agent/config", query, **headers)


@pytest.fixture
def downtown(owner_api, clinic):
    owner_api.put(clinic_url(clinic, "hours/"), CLINIC_HOURS, format="json")
    r = owner_api.post(clinic_url(clinic, "locations/"), DOWNTOWN, format="json")
    assert r.status_code == 201, r.content
    return r.json()


def test_add_list_get_and_patch_a_location_in_the_documented_shape(owner_api, clinic, downtown):
    assert downtown == {"id": downtown["id"], **DOWNTOWN, "receptionists": []}
    assert owner_api.get(clinic_url(clinic, "locations/")).json() == [downtown]
    url = clinic_url(clinic, f"locations/{downtown['id']}/")
    assert owner_api.get(url).json() == downtown
    # What a GET returned may be sent back; hours: null follows the clinic's hours again.
    r = owner_api.patch(url, {**downtown, "hours": None}, format="json")
    assert r.status_code == 200 and r.json()["hours"] is None
    r = owner_api.patch(url, {"hours": {**DOWNTOWN_HOURS, "timezone": None}}, format="json")
    assert r.json()["hours"]["timezone"] is None
    entry = AuditEntry.objects.filter(clinic_id=clinic.pk, event="location.update").first()
    assert entry is not None
    # /hours/ is untouched by locations.
    assert owner_api.get(clinic_url(clinic, "hours/")).json() == CLINIC_HOURS


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"hours": {**DOWNTOWN_HOURS, "timezone": "Mars/Olympus_Mons"}}, "hours.timezone"),
        (
            {
                "hours": {
                    **DOWNTOWN_HOURS,
                    "weekly": [{"day": 0, "opens": "17:00", "closes": "09:00"}],
                }
            },
            "hours.weekly[0].closes",
        ),
        (
            {
                "hours": {
                    **DOWNTOWN_HOURS,
                    "weekly": [
                        {"day": 1, "opens": "09:00", "closes": "13:00"},
                        {"day": 1, "opens": "12:00", "closes": "18:00"},
                    ],
                }
            },
            "hours.weekly",
        ),
        ({"hours": {"weekly": []}}, "hours.closures"),
        (
            {"hours": {**DOWNTOWN_HOURS, "closures": [{"date": "2026-02-30"}]}},
            "hours.closures[0].date",
        ),
        ({"hours": [1]}, "hours"),
        ({"name": "downtown"}, "name"),  # the same name, another case
        ({"name": ""}, "name"),
        ({"address": "a\x00b"}, "address"),
        ({"phone": "+14155550100"}, "phone"),
        ({"receptionists": [1]}, "receptionists"),
        ({"id": 999}, "id"),
    ],
)
def test_bad_location_input_is_400_naming_the_field_and_changes_nothing(
    owner_api, clinic, downtown, body, field
):
    other = owner_api.post(clinic_url(clinic, "locations/"), {"name": "Uptown"}, format="json")
    url = clinic_url(clinic, f"locations/{other.json()['id']}/")
    before = owner_api.get(url).json()
    r = owner_api.patch(url, body, format="json")
    assert r.status_code == 400, r.content
    assert field in r.json(), r.json()
    assert owner_api.get(url).json() == before


def test_a_receptionist_names_a_location_of_its_own_clinic_only(owner_api, clinic, downtown):
    line = receptionist_create(clinic=clinic, name="Downtown line")
    url = clinic_url(clinic, f"receptionists/{line.pk}/")
    foreign = make_clinic(UserFactory(), "Other Clinic")
    theirs = Location.objects.create(clinic=foreign, name="Theirs")
    for value in (theirs.pk, 0, "x", True):
        r = owner_api.patch(url, {"location": value, "greeting": "Changed?"}, format="json")
        assert r.status_code == 400 and "location" in r.json(), (value, r.content)
    line.refresh_from_db()
    assert line.location_id is None and line.greeting != "Changed?"
    version = line.version
    r = owner_api.patch(url, {"location": downtown["id"]}, format="json")
    assert r.status_code == 200 and r.json()["location"] == downtown["id"]
    line.refresh_from_db()
    assert line.version == version  # a call-time fact: LiveKit does not follow it
    got = owner_api.get(clinic_url(clinic, f"locations/{downtown['id']}/")).json()
    assert got["receptionists"] == [line.pk]
    r = owner_api.post(
        clinic_url(clinic, "receptionists/"),
        {"name": "Second downtown line", "location": downtown["id"]},
        format="json",
    )
    assert r.status_code == 201 and r.json()["location"] == downtown["id"]


def test_the_config_uses_the_locations_facts_and_its_own_hours_in_its_zone(
    owner_api, agent, clinic, downtown, monkeypatch
):
    _live(clinic)
    owner_api.patch(clinic_url(clinic, "clinic-info/"), {"address": "1 Main St"}, format="json")
    main = Receptionist.objects.first_of(clinic)
    line = receptionist_create(clinic=clinic, name="Downtown line")
    owner_api.patch(
        clinic_url(clinic, f"receptionists/{line.pk}/"), {"location": downtown["id"]}, format="json"
    )
    # Wednesday 2 December, 18:00 in New York = 15:00 in San Francisco.
    now = {"at": datetime(2026, 12, 2, 18, 0, tzinfo=NY)}
    monkeypatch.setattr(call_time_config, "current_time", lambda: now["at"])
    clinic_answer = _config(agent, clinic, main).json()
    assert clinic_answer["open_now"] is False and clinic_answer["location"] is None
    assert clinic_answer["knowledge"]["address"] == "1 Main St"
    r = _config(agent, clinic, line)
    body = r.json()
    assert body["location"] == {"id": downtown["id"], "name": "Downtown", "own_hours": True}
    assert body["open_now"] is True and body["open_until"] == "2026-12-02T20:00-08:00"
    assert body["timezone"] == "America/Los_Angeles"
    assert body["knowledge"]["address"] == DOWNTOWN["address"]
    assert body["knowledge"]["directions"] == DOWNTOWN["directions"]
    assert body["hours"]["closures"] == DOWNTOWN_HOURS["closures"]
    etag = r["ETag"]
    assert _config(agent, clinic, line, HTTP_IF_NONE_MATCH=etag).status_code == 304
    # Closing time in San Francisco: the clinic's hours say nothing about it.
    now["at"] = datetime(2026, 12, 2, 23, 0, tzinfo=NY)
    r = _config(agent, clinic, line, HTTP_IF_NONE_MATCH=etag)
    assert r.status_code == 200 and r.json()["open_now"] is False
    # The location's closure on Thursday: it opens again on Friday at noon, its time.
    assert r.json()["opens_at"] == "2026-12-04T12:00-08:00"


def test_every_location_change_is_a_new_etag_on_the_view_and_the_pickup_304(
    owner_api, agent, clinic, downtown
):
    _live(clinic)
    line = receptionist_create(clinic=clinic, name="Downtown line")
    line_url = clinic_url(clinic, f"receptionists/{line.pk}/")
    location_url = clinic_url(clinic, f"locations/{downtown['id']}/")
    seen = [_config(agent, clinic, line)["ETag"]]
    steps = [
        (line_url, "patch", {"location": downtown["id"]}),
        (location_url, "patch", {"directions": "Ground floor now."}),
        (location_url, "patch", {"hours": None}),
        (location_url, "delete", None),
    ]
    for url, method, body in steps:
        r = getattr(owner_api, method)(url, body, format="json")
        assert r.status_code in (200, 204), r.content
        old = _config(agent, clinic, line, HTTP_IF_NONE_MATCH=seen[-1])
        assert old.status_code == 200, (url, body)  # neither path answers 304 for the old one
        # (after the delete the answer is the one before the location was named: same ETag)
        assert old["ETag"] != seen[-1]
        with pytest.MonkeyPatch.context() as mp:  # the new one: 304 from the middleware
            mp.setattr(AgentConfigApi, "get", lambda *a, **k: pytest.fail("view ran"))
            assert _config(agent, clinic, line, HTTP_IF_NONE_MATCH=old["ETag"]).status_code == 304
        seen.append(old["ETag"])
    final = _config(agent, clinic, line).json()
    assert final["location"] is None  # deleted: the clinic's facts and hours again
    line.refresh_from_db()
    assert line.location_id is None


def test_the_locations_pages_add_edit_assign_and_remove(client, owner, viewer, clinic):
    line = receptionist_create(clinic=clinic, name="Downtown line")
    web = Client()
    web.force_login(owner)
    r = web.post(reverse("frontdesk:locations", args=[clinic.slug]), {"name": "Downtown"})
    row = Location.objects.get(clinic=clinic)
    page = reverse("frontdesk:location", args=[clinic.slug, row.pk])
    assert r.status_code == 302 and r["Location"] == page
    form = {
        "name": "Downtown",
        "address": "400 Market Street",
        "directions": "",
        "receptionists": [str(line.pk)],
        "own_hours": "on",
        "timezone": "America/Los_Angeles",
        "d0_0_opens": "12:00",
        "d0_0_closes": "08:00",
        "closures": "2026-12-03 Staff training",
    }
    bad = web.post(page, form)
    assert bad.status_code == 200
    assert "the closing time must be after the opening time" in bad.content.decode()
    row.refresh_from_db()
    assert not row.own_hours and not Receptionist.objects.filter(location=row).exists()
    assert web.post(page, {**form, "d0_0_closes": "20:00"}).status_code == 302
    row.refresh_from_db()
    assert row.own_hours and row.timezone == "America/Los_Angeles"
    assert row.weekly == [{"day": 0, "opens": 720, "closes": 1200}]
    assert row.closures == [{"date": "2026-12-03", "reason": "Staff training"}]
    assert list(Receptionist.objects.filter(location=row)) == [line]
    listing = web.get(reverse("frontdesk:locations", args=[clinic.slug])).content.decode()
    assert "Downtown line" in listing and "Its own opening hours" in listing
    viewer_web = Client()
    viewer_web.force_login(viewer)
    assert viewer_web.get(page).status_code == 200
    assert viewer_web.post(page, form).status_code == 403
    assert web.post(page, {"delete": "1"}).status_code == 302
    line.refresh_from_db()
    assert line.location_id is None and not Location.objects.filter(pk=row.pk).exists()


def test_an_outsider_never_sees_a_location(clinic, outsider, downtown):
    url = clinic_url(clinic, f"locations/{downtown['id']}/")
    assert api_as(outsider).get(url).status_code == 404
    assert api_as(outsider).delete(url).status_code == 404
    assert Location.objects.filter(pk=downtown["id"]).exists()
