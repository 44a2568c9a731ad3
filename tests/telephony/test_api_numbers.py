"""GET|POST /clinics/{slug}/numbers/ and DELETE /clinics/{slug}/numbers/{e164}/."""

from __future__ import annotations

import pytest

from telephony.models import PhoneNumber, Provisioning, Receptionist
from telephony.services import phone_number_add
from tenants.models import Clinic
from tests.api_helpers import api_as, clinic_url, iso, number_url
from tests.factories import make_clinic

pytestmark = pytest.mark.django_db

N1, N2 = "+14155550100", "+14155550101"


def _numbers(clinic: Clinic) -> list[str]:
    return list(PhoneNumber.objects.for_clinic(clinic).values_list("e164", flat=True))


def test_list(clinic, viewer):
    a = phone_number_add(clinic=clinic, number=N2, label="Front desk")
    b = phone_number_add(clinic=clinic, number=N1)
    r = api_as(viewer).get(clinic_url(clinic, "numbers/"))
    first = Receptionist.objects.first_of(clinic).pk
    assert r.status_code == 200
    assert r.json() == [
        {"e164": N1, "label": "", "receptionist": first, "created_at": iso(b.created_at)},
        {"e164": N2, "label": "Front desk", "receptionist": first, "created_at": iso(a.created_at)},
    ]


def test_add_normalises_the_number(clinic, owner):
    r = api_as(owner).post(
        clinic_url(clinic, "numbers/"),
        {"e164": "+1 (415) 555-0100", "label": "Main"},
        format="json",
    )
    assert r.status_code == 201, r.content
    phone = PhoneNumber.objects.get()
    assert r.json() == {
        "e164": N1,
        "label": "Main",
        "receptionist": phone.receptionist_id,
        "created_at": iso(phone.created_at),
    }
    assert phone.receptionist == Receptionist.objects.first_of(clinic)
    assert phone.clinic == clinic


def test_admin_member_may_add(clinic, admin_member):
    r = api_as(admin_member).post(clinic_url(clinic, "numbers/"), {"e164": N1}, format="json")
    assert r.status_code == 201
    assert _numbers(clinic) == [N1]


def test_a_number_owned_by_another_clinic_is_refused_and_nothing_is_stored(
    clinic, owner, django_capture_on_commit_callbacks
):
    other = make_clinic(name="Other Dental")
    phone_number_add(clinic=other, number=N1)
    Clinic.objects.filter(pk=clinic.pk).update(state=Clinic.State.LIVE)

    with django_capture_on_commit_callbacks() as callbacks:
        r = api_as(owner).post(
            clinic_url(clinic, "numbers/"), {"e164": "+1 415-555-0100"}, format="json"
        )

    assert r.status_code == 400
    assert r.json() == {
        "e164": [
            "+14155550100 is already registered to another clinic on Switchboard. If it is "
            "yours, contact support."
        ]
    }
    assert _numbers(clinic) == []
    assert _numbers(other) == [N1]
    assert Provisioning.objects.get(clinic=clinic).generation == 0
    assert callbacks == []


def test_adding_a_number_twice_says_it_is_already_ours(clinic, owner):
    phone_number_add(clinic=clinic, number=N1)
    r = api_as(owner).post(clinic_url(clinic, "numbers/"), {"e164": N1}, format="json")
    assert r.status_code == 400
    assert r.json() == {"e164": ["+14155550100 is already one of this clinic's numbers."]}


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"e164": "4155550100"}, "e164", "Start with + and the country code"),
        ({"e164": "tel:+14155550100"}, "e164", "no letters, extensions or tel: prefixes"),
        ({"e164": "+1415555010x"}, "e164", "no letters"),
        ({"e164": "+14155550100;ext=1"}, "e164", "no letters"),
        ({"e164": "+1 555"}, "e164", "numbering plan"),
        ({"e164": "+999999999999"}, "e164", "not a phone number"),
        ({"e164": "+１４１５５５５０１００"}, "e164", "no letters"),
        ({"e164": "+" + "1" * 70}, "e164", "no more than 64 characters"),
        ({"e164": ""}, "e164", "blank"),
        ({"e164": 14155550100}, "e164", "JSON string"),
        ({"e164": None}, "e164", "null"),
        ({}, "e164", "required"),
        ({"e164": N1, "label": "x" * 61}, "label", "no more than 60"),
        ({"e164": N1, "label": 5}, "label", "JSON string"),
        ({"e164": N1, "clinic": "other"}, "clinic", "Unknown field; remove it"),
    ],
)
def test_add_bad_input_names_the_field_and_stores_nothing(clinic, owner, body, field, words):
    r = api_as(owner).post(clinic_url(clinic, "numbers/"), body, format="json")
    assert r.status_code == 400, r.content
    assert words in " ".join(r.json()[field]), r.json()
    assert not PhoneNumber.objects.exists()


def test_delete_with_the_plus_url_encoded(clinic, owner):
    phone_number_add(clinic=clinic, number=N1)
    phone_number_add(clinic=clinic, number=N2)
    assert number_url(clinic, N1).endswith("/numbers/%2B14155550100/")

    r = api_as(owner).delete(number_url(clinic, N1))

    assert r.status_code == 204
    assert r.content == b""
    assert _numbers(clinic) == [N2]


def test_delete_of_a_number_that_is_not_ours_is_404_and_leaves_it(clinic, owner):
    other = make_clinic(name="Other Dental")
    phone_number_add(clinic=other, number=N1)
    for url in (number_url(clinic, N1), number_url(clinic, "garbage")):
        r = api_as(owner).delete(url)
        assert r.status_code == 404
        assert r.json() == {"detail": "No such number in this clinic."}
    assert _numbers(other) == [N1]


def test_a_live_clinic_keeps_its_last_number(clinic, owner):
    phone_number_add(clinic=clinic, number=N1)
    Clinic.objects.filter(pk=clinic.pk).update(state=Clinic.State.LIVE)
    r = api_as(owner).delete(number_url(clinic, N1))
    assert r.status_code == 400
    assert r.json() == {
        "e164": [
            "A live clinic needs at least one number. Add the new number first, or offboard "
            "the clinic."
        ]
    }
    assert _numbers(clinic) == [N1]


def test_viewer_cannot_add_or_delete(clinic, viewer):
    phone_number_add(clinic=clinic, number=N1)
    client = api_as(viewer)
    assert (
        client.post(clinic_url(clinic, "numbers/"), {"e164": N2}, format="json").status_code == 403
    )
    assert client.delete(number_url(clinic, N1)).status_code == 403
    assert _numbers(clinic) == [N1]


def test_outsider_gets_404_everywhere(clinic, outsider):
    phone_number_add(clinic=clinic, number=N1)
    client = api_as(outsider)
    assert client.get(clinic_url(clinic, "numbers/")).status_code == 404
    assert (
        client.post(clinic_url(clinic, "numbers/"), {"e164": N2}, format="json").status_code == 404
    )
    assert client.delete(number_url(clinic, N1)).status_code == 404
    assert _numbers(clinic) == [N1]


def test_a_national_number_is_read_in_the_clinics_country(clinic, owner):
    from rest_framework.test import APIClient

    from tenants.services import clinic_update

    clinic_update(clinic=clinic, timezone_name="America/Chicago")
    api = APIClient()
    api.force_authenticate(owner)
    r = api.post(
        f"/api/v1/clinics/{clinic.slug}/numbers/", {"e164": "(415) 555-0199"}, format="json"
    )
    assert r.status_code == 201 and r.json()["e164"] == "+14155550199"
