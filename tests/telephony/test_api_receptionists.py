"""/api/v1/clinics/{slug}/receptionists/ and a number's receptionist (issue 15)."""

from __future__ import annotations

import pytest

from telephony.models import PhoneNumber, Receptionist
from telephony.receptionists import receptionist_create
from telephony.services import phone_number_add
from tests.api_helpers import api_as, clinic_url, iso, number_url
from tests.factories import make_clinic

pytestmark = pytest.mark.django_db
A, B = "+14155550100", "+14155550101"


def url(clinic, row=None):
    return clinic_url(clinic, "receptionists/" + (f"{row.pk}/" if row else ""))


def test_the_list_names_each_receptionist_with_its_numbers(clinic, viewer):
    main = Receptionist.objects.first_of(clinic)
    spanish = receptionist_create(clinic=clinic, name="Spanish line", language="es-ES")
    phone_number_add(clinic=clinic, number=B, receptionist=spanish.pk)
    phone_number_add(clinic=clinic, number=A)
    r = api_as(viewer).get(url(clinic))
    assert r.status_code == 200
    body = r.json()
    assert [(x["id"], x["name"], x["slug"], x["first"], x["numbers"]) for x in body] == [
        (main.pk, "Main line", "main", True, [A]),
        (spanish.pk, "Spanish line", "spanish-line", False, [B]),
    ]
    assert body[1]["language"] == "es-ES" and body[1]["version"] == 1
    assert body[1]["created_at"] == iso(spanish.created_at)


def test_add_change_and_delete_a_receptionist(clinic, owner):
    api = api_as(owner)
    r = api.post(url(clinic), {"name": "Billing", "greeting": "Billing here."}, format="json")
    assert r.status_code == 201, r.content
    row = Receptionist.objects.get(pk=r.json()["id"])
    assert (row.name, row.greeting, row.slug) == ("Billing", "Billing here.", "billing")
    # What a GET returns may be sent back: read-only fields unchanged are ignored.
    got = api.get(url(clinic, row)).json()
    r = api.patch(url(clinic, row), {**got, "instructions": "Only billing."}, format="json")
    assert r.status_code == 200, r.content
    assert r.json()["instructions"] == "Only billing." and r.json()["version"] == 2
    r = api.patch(url(clinic, row), {"version": 7}, format="json")
    assert r.status_code == 400 and "goes up by itself" in r.json()["version"][0]
    assert api.delete(url(clinic, row)).status_code == 204
    assert not Receptionist.objects.filter(pk=row.pk).exists()


def test_a_name_is_required_and_unknown_fields_are_named(clinic, owner):
    api = api_as(owner)
    r = api.post(url(clinic), {"greeting": "Hi"}, format="json")
    assert r.status_code == 400 and "name" in r.json()
    r = api.post(url(clinic), {"name": "X", "colour": "blue"}, format="json")
    assert r.status_code == 400 and "colour" in str(r.json())
    r = api.post(url(clinic), {"name": "main line"}, format="json")
    assert r.status_code == 400 and "already has a receptionist" in r.json()["name"][0]
    assert Receptionist.objects.for_clinic(clinic).count() == 1


def test_deleting_moves_numbers_to_move_to_and_the_last_one_stays(clinic, owner):
    api = api_as(owner)
    main = Receptionist.objects.first_of(clinic)
    spanish = receptionist_create(clinic=clinic, name="Spanish line")
    billing = receptionist_create(clinic=clinic, name="Billing")
    phone_number_add(clinic=clinic, number=A, receptionist=spanish.pk)
    r = api.delete(url(clinic, spanish) + f"?move_to={billing.pk}")
    assert r.status_code == 204
    assert PhoneNumber.objects.get(e164=A).receptionist == billing
    r = api.delete(url(clinic, billing) + "?move_to=nope")
    assert r.status_code == 400 and "move_to" in r.json()
    assert api.delete(url(clinic, billing)).status_code == 204
    assert PhoneNumber.objects.get(e164=A).receptionist == main
    r = api.delete(url(clinic, main))
    assert r.status_code == 400
    assert "at least one receptionist" in r.json()["receptionist"][0]


def test_patching_a_number_chooses_its_receptionist(clinic, owner):
    spanish = receptionist_create(clinic=clinic, name="Spanish line")
    phone_number_add(clinic=clinic, number=A)
    r = api_as(owner).patch(number_url(clinic, A), {"receptionist": spanish.pk}, format="json")
    assert r.status_code == 200, r.content
    assert r.json()["receptionist"] == spanish.pk
    assert PhoneNumber.objects.get(e164=A).receptionist == spanish


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"receptionist": "1"}, "receptionist", "JSON number"),
        ({"receptionist": True}, "receptionist", "JSON number"),
        ({}, "receptionist", "required"),
        ({"receptionist": 1, "label": "new"}, "label", "read-only"),
    ],
)
def test_bad_number_patches_are_400s_naming_the_field(clinic, owner, body, field, words):
    phone_number_add(clinic=clinic, number=A)
    r = api_as(owner).patch(number_url(clinic, A), body, format="json")
    assert r.status_code == 400 and words in str(r.json()[field]), r.json()


def test_another_clinics_receptionist_is_refused_and_nothing_changes(clinic, owner):
    theirs = Receptionist.objects.first_of(make_clinic(name="Other Dental"))
    phone_number_add(clinic=clinic, number=A)
    api = api_as(owner)
    r = api.patch(number_url(clinic, A), {"receptionist": theirs.pk}, format="json")
    assert r.status_code == 400
    assert "not one of this clinic's receptionists" in r.json()["receptionist"][0]
    body = {"e164": B, "receptionist": theirs.pk}
    r = api.post(clinic_url(clinic, "numbers/"), body, format="json")
    assert r.status_code == 400 and "receptionist" in r.json()
    assert list(PhoneNumber.objects.values_list("e164", "receptionist")) == [
        (A, Receptionist.objects.first_of(clinic).pk)
    ]
    # Nor can it be read, changed or deleted through this clinic's URL.
    for method in ("get", "patch", "delete"):
        r = getattr(api, method)(url(clinic, theirs), {}, format="json")
        assert r.status_code == 404, method


def test_viewers_may_read_but_not_write(clinic, viewer):
    api = api_as(viewer)
    main = Receptionist.objects.first_of(clinic)
    assert api.get(url(clinic, main)).status_code == 200
    assert api.post(url(clinic), {"name": "X"}, format="json").status_code == 403
    assert api.patch(url(clinic, main), {"name": "X"}, format="json").status_code == 403
    assert api.delete(url(clinic, main)).status_code == 403
    assert Receptionist.objects.get(pk=main.pk).name == "Main line"


def test_the_agent_endpoint_keeps_editing_the_first_receptionist(clinic, owner):
    receptionist_create(clinic=clinic, name="Spanish line")
    r = api_as(owner).put(clinic_url(clinic, "agent/"), {"greeting": "Hi!"}, format="json")
    assert r.status_code == 200 and r.json()["greeting"] == "Hi!"
    assert Receptionist.objects.first_of(clinic).greeting == "Hi!"


def test_the_agent_settings_are_one_list_for_input_and_both_outputs():
    from telephony.api.receptionists import ReceptionistInput, ReceptionistOutput
    from telephony.api.serializers import AgentInput, AgentOutput
    from telephony.receptionists import AGENT_FIELDS

    assert set(AgentInput().fields) == set(AGENT_FIELDS)
    assert set(ReceptionistInput().fields) == {*AGENT_FIELDS, "name", "location"}
    for output in (AgentOutput, ReceptionistOutput):
        fields = output.Meta.fields
        start = fields.index(AGENT_FIELDS[0])
        assert fields[start : start + len(AGENT_FIELDS)] == AGENT_FIELDS
