"""GET|POST /api/v1/clinics/ and GET|PATCH /api/v1/clinics/{slug}/."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings

from telephony import publishing
from telephony.models import Provisioning
from tenants.models import Clinic, Membership
from tests.api_helpers import API, api_as, clinic_url, iso
from tests.factories import make_clinic

pytestmark = pytest.mark.django_db


def _clinic_dict(clinic: Clinic, role: str) -> dict:
    clinic.refresh_from_db()
    return {
        "id": str(clinic.pk),
        "name": clinic.name,
        "slug": clinic.slug,
        "room_prefix": clinic.room_prefix,
        "timezone": clinic.timezone,
        "state": clinic.state,
        "role": role,
        "region": "",  # the default project's (one-project deployment: no label)
        "sip_uri": django_settings.LIVEKIT_SIP_URI,
        "created_at": iso(clinic.created_at),
    }


def test_list_shows_only_my_clinics_with_my_role(clinic, viewer, outsider):
    second = make_clinic(viewer, "Zebra Dental")
    gone = make_clinic(viewer, "Gone Dental")
    Clinic.objects.filter(pk=gone.pk).update(state=Clinic.State.OFFBOARDED)

    r = api_as(viewer).get(f"{API}/clinics/")

    assert r.status_code == 200
    assert r.json() == [_clinic_dict(clinic, "viewer"), _clinic_dict(second, "owner")]


def test_create_makes_the_caller_owner(owner):
    r = api_as(owner).post(
        f"{API}/clinics/", {"name": "Second Site", "timezone": "Europe/London"}, format="json"
    )

    assert r.status_code == 201, r.content
    clinic = Clinic.objects.get(name="Second Site")
    assert r.json() == _clinic_dict(clinic, "owner")
    assert clinic.timezone == "Europe/London"
    assert Membership.objects.get(clinic=clinic).user == owner
    assert Provisioning.objects.get(clinic=clinic).state == "new"


def test_create_defaults_to_utc(owner):
    r = api_as(owner).post(f"{API}/clinics/", {"name": "Third"}, format="json")
    assert r.status_code == 201
    assert r.json()["timezone"] == "UTC"


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({}, "name", "required"),
        ({"name": "  "}, "name", "blank"),
        ({"name": "x" * 121}, "name", "no more than 120 characters"),
        ({"name": 7}, "name", "JSON string"),
        ({"name": "A", "timezone": "Mars/Olympus"}, "timezone", "IANA time zone"),
        ({"name": "A", "timezone": 1}, "timezone", "JSON string"),
        ({"name": "A", "owner": 3}, "owner", "Unknown field"),
        ({"name": "A", "slug": "mine"}, "slug", "Unknown field"),
    ],
)
def test_create_bad_input(owner, body, field, words):
    r = api_as(owner).post(f"{API}/clinics/", body, format="json")
    assert r.status_code == 400, r.content
    assert words in " ".join(r.json()[field])
    assert Clinic.objects.count() == 0


def test_anonymous_cannot_create(api_client):
    assert api_client.post(f"{API}/clinics/", {"name": "A"}, format="json").status_code == 401
    assert not Clinic.objects.exists()


def test_retrieve(clinic, owner):
    r = api_as(owner).get(clinic_url(clinic))
    assert r.status_code == 200
    assert r.json() == _clinic_dict(clinic, "owner")


def test_viewer_may_read(clinic, viewer):
    r = api_as(viewer).get(clinic_url(clinic))
    assert r.status_code == 200
    assert r.json()["role"] == "viewer"


def test_outsider_gets_404(clinic, outsider):
    r = api_as(outsider).get(clinic_url(clinic))
    assert r.status_code == 404
    assert r.json() == {"detail": "No such clinic."}


def test_unknown_slug_gets_the_same_404(owner, clinic):
    r = api_as(owner).get(f"{API}/clinics/no-such-clinic/")
    assert r.status_code == 404
    assert r.json() == {"detail": "No such clinic."}


def test_offboarded_clinic_is_404(clinic, owner):
    Clinic.objects.filter(pk=clinic.pk).update(state=Clinic.State.OFFBOARDED)
    assert api_as(owner).get(clinic_url(clinic)).status_code == 404


def test_patch_name_and_timezone(clinic, admin_member):
    r = api_as(admin_member).patch(
        clinic_url(clinic),
        {"name": "Brighter Smile", "timezone": "America/New_York"},
        format="json",
    )
    assert r.status_code == 200, r.content
    assert r.json() == _clinic_dict(clinic, "admin")
    assert (clinic.name, clinic.timezone) == ("Brighter Smile", "America/New_York")
    assert Provisioning.objects.get(clinic=clinic).generation == 0


def test_patch_room_prefix_of_a_live_clinic_reprovisions(
    clinic, owner, django_capture_on_commit_callbacks, monkeypatch
):
    published = []
    monkeypatch.setattr(publishing, "_publish", lambda cid, verify: published.append(cid))
    Clinic.objects.filter(pk=clinic.pk).update(state=Clinic.State.LIVE)

    with django_capture_on_commit_callbacks(execute=True):
        r = api_as(owner).patch(clinic_url(clinic), {"room_prefix": "bright-new"}, format="json")

    assert r.status_code == 200, r.content
    assert r.json()["room_prefix"] == "bright-new"
    assert Provisioning.objects.get(clinic=clinic).generation == 1
    assert published == [str(clinic.pk)]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"room_prefix": "Has_Underscore"}, "room_prefix", "no underscores"),
        ({"room_prefix": "ab"}, "room_prefix", "3 to 40"),
        ({"room_prefix": "x" * 41}, "room_prefix", "no more than 40"),
        ({"name": ""}, "name", "blank"),
        ({"name": ["a"]}, "name", "JSON string"),
        ({"timezone": "Nowhere"}, "timezone", "IANA"),
        ({"state": "live"}, "state", "read-only"),
        ({"slug": "stolen"}, "slug", "read-only"),
    ],
)
def test_patch_bad_input_changes_nothing(clinic, owner, body, field, words):
    before = _clinic_dict(clinic, "owner")
    r = api_as(owner).patch(clinic_url(clinic), body, format="json")
    assert r.status_code == 400, r.content
    assert words in " ".join(r.json()[field]), r.json()
    assert _clinic_dict(clinic, "owner") == before


def test_patch_room_prefix_of_another_clinic(clinic, owner, outsider):
    other = Clinic.objects.exclude(pk=clinic.pk).get()
    r = api_as(owner).patch(clinic_url(clinic), {"room_prefix": other.room_prefix}, format="json")
    assert r.status_code == 400
    assert r.json() == {
        "room_prefix": ["Another clinic has this room prefix; choose a different one."]
    }
    # A prefix that only starts the other one is a different prefix (decision 0021).
    r = api_as(owner).patch(
        clinic_url(clinic), {"room_prefix": other.room_prefix[:-1].strip("-")}, format="json"
    )
    assert r.status_code == 200


def test_viewer_cannot_patch(clinic, viewer):
    r = api_as(viewer).patch(clinic_url(clinic), {"name": "Hacked"}, format="json")
    assert r.status_code == 403
    assert r.json() == {"detail": "Your role in this clinic does not allow this."}
    clinic.refresh_from_db()
    assert clinic.name == "Bright Smile Dental"


def test_outsider_cannot_patch(clinic, outsider):
    r = api_as(outsider).patch(clinic_url(clinic), {"name": "Hacked"}, format="json")
    assert r.status_code == 404
    clinic.refresh_from_db()
    assert clinic.name == "Bright Smile Dental"
