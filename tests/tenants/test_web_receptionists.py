"""The receptionists pages: list, add, edit, delete, and who answers each number."""

from __future__ import annotations

import pytest
from django.urls import reverse

from telephony.models import PhoneNumber, Provisioning, Receptionist
from telephony.receptionists import receptionist_create
from telephony.services import phone_number_add
from tenants.models import Clinic
from tests.factories import make_clinic
from tests.tenants.web_helpers import errors_for

pytestmark = pytest.mark.django_db
A, B = "+14155550100", "+14155550101"

FORM = {
    "name": "Spanish line",
    "greeting": "Gracias por llamar.",
    "instructions": "Habla español.",
    "language": "es-ES",
    "voice": "coral",
    "stt_model": "deepgram/nova-3",
    "llm_model": "openai/gpt-4o-mini",
    "tts_model": "openai/gpt-4o-mini-tts",
    "recording_consent_required": "on",
}


def page(clinic, name="receptionists", *args):
    return reverse(f"tenants:{name}", args=[clinic.slug, *args])


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def live(clinic):
    phone_number_add(clinic=clinic, number=A)
    phone_number_add(clinic=clinic, number=B)
    Clinic.objects.filter(pk=clinic.pk).update(state=Clinic.State.LIVE)
    clinic.refresh_from_db()
    return clinic


def test_the_list_shows_each_receptionist_and_who_answers_each_number(owner_client, live):
    receptionist_create(clinic=live, name="Billing")
    r = owner_client.get(page(live))
    body = r.content.decode()
    assert r.status_code == 200
    assert "Main line" in body and "Billing" in body and "answers new numbers" in body
    assert body.count('name="n') >= 4  # a form per number (e164 and receptionist)
    assert "Receptionists" in body and 'aria-current="page"' in body


def test_adding_starts_from_the_first_receptionist_and_saves(owner_client, live):
    form = owner_client.get(page(live, "receptionist_add")).context["form"]
    assert form.initial["greeting"] == Receptionist.objects.first_of(live).greeting
    gen = Provisioning.objects.get(clinic=live).generation
    r = owner_client.post(page(live, "receptionist_add"), FORM)
    assert r.status_code == 302 and r["Location"] == page(live)
    row = Receptionist.objects.get(clinic=live, name="Spanish line")
    assert (row.language, row.greeting, row.slug) == (
        "es-ES",
        "Gracias por llamar.",
        "spanish-line",
    )
    assert Provisioning.objects.get(clinic=live).generation == gen + 1
    follow = owner_client.get(r["Location"]).content.decode()
    assert "Receptionist “Spanish line” added. Your phone line is being updated." in follow


def test_a_duplicate_name_is_shown_next_to_the_field_and_nothing_is_saved(owner_client, live):
    r = owner_client.post(page(live, "receptionist_add"), {**FORM, "name": "MAIN LINE"})
    assert r.status_code == 400
    assert "already has a receptionist named" in errors_for(r, "name")[0]
    assert Receptionist.objects.for_clinic(live).count() == 1


def test_editing_bumps_the_version(owner_client, live):
    row = receptionist_create(clinic=live, name="Billing")
    url = page(live, "receptionist_edit", row.pk)
    assert owner_client.get(url).context["form"].initial["name"] == "Billing"
    r = owner_client.post(url, {**FORM, "name": "Accounts"})
    assert r.status_code == 302
    row.refresh_from_db()
    assert (row.name, row.version, row.slug) == ("Accounts", 2, "billing")


def test_assigning_a_number_moves_it(owner_client, live):
    billing = receptionist_create(clinic=live, name="Billing")
    phone = PhoneNumber.objects.get(e164=B)
    data = {f"n{phone.pk}-e164": B, f"n{phone.pk}-receptionist": str(billing.pk)}
    r = owner_client.post(page(live, "number_assign"), data)
    assert r.status_code == 302
    assert PhoneNumber.objects.get(e164=B).receptionist == billing
    assert "is now answered by “Billing”" in owner_client.get(page(live)).content.decode()


def test_assigning_another_clinics_receptionist_is_refused(owner_client, live):
    theirs = Receptionist.objects.first_of(make_clinic(name="Other Dental"))
    phone = PhoneNumber.objects.get(e164=B)
    data = {f"n{phone.pk}-e164": B, f"n{phone.pk}-receptionist": str(theirs.pk)}
    r = owner_client.post(page(live, "number_assign"), data)
    assert r.status_code == 400
    assert "Select a valid choice" in r.content.decode()
    assert PhoneNumber.objects.get(e164=B).receptionist == Receptionist.objects.first_of(live)


def test_deleting_moves_numbers_to_the_chosen_receptionist(owner_client, live):
    main = Receptionist.objects.first_of(live)
    billing = receptionist_create(clinic=live, name="Billing")
    url = page(live, "receptionist_delete", main.pk)
    body = owner_client.get(url).content.decode()
    assert "answers 2 numbers" in body
    r = owner_client.post(url, {"move_to": str(billing.pk)})
    assert r.status_code == 302
    assert set(billing.numbers.values_list("e164", flat=True)) == {A, B}
    assert not Receptionist.objects.filter(pk=main.pk).exists()


def test_the_last_receptionist_cannot_be_deleted(owner_client, live):
    main = Receptionist.objects.first_of(live)
    url = page(live, "receptionist_delete", main.pk)
    assert "needs at least one receptionist" in owner_client.get(url).content.decode()
    r = owner_client.post(url, {"move_to": str(main.pk)})
    assert r.status_code == 400
    assert Receptionist.objects.filter(pk=main.pk).exists()


def test_viewers_see_but_cannot_change(client, viewer, live):
    client.force_login(viewer)
    main = Receptionist.objects.first_of(live)
    body = client.get(page(live)).content.decode()
    assert "Add a receptionist" not in body and "answered by Main line" in body
    assert client.get(page(live, "receptionist_edit", main.pk)).status_code == 200
    assert client.post(page(live, "receptionist_add"), FORM).status_code == 403
    assert client.post(page(live, "receptionist_edit", main.pk), FORM).status_code == 403
    assert Receptionist.objects.for_clinic(live).count() == 1


def test_another_clinics_receptionist_is_not_found(owner_client, live):
    theirs = Receptionist.objects.first_of(make_clinic(name="Other Dental"))
    for name in ("receptionist_edit", "receptionist_delete"):
        assert owner_client.get(page(live, name, theirs.pk)).status_code == 404
