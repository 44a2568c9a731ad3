"""Receptionists as data (issue 15): the services, their errors, and the audit log."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from audit.models import AuditEntry
from telephony import services
from telephony.models import PhoneNumber, Provisioning, Receptionist
from telephony.receptionists import (
    MAX_RECEPTIONISTS_PER_CLINIC,
    line_slug,
    phone_number_assign,
    receptionist_create,
    receptionist_delete,
    receptionist_update,
)
from tenants.models import Clinic
from tests.factories import make_clinic

pytestmark = pytest.mark.django_db
A, B, C = "+14155550100", "+14155550101", "+14155550102"


@pytest.fixture
def live(clinic):
    Clinic.objects.filter(pk=clinic.pk).update(state=Clinic.State.LIVE)
    clinic.refresh_from_db()
    return clinic


def generation(clinic):
    return Provisioning.objects.get(clinic=clinic).generation


def snapshot(clinic):
    return (
        list(Receptionist.objects.for_clinic(clinic).order_by("id").values()),
        list(PhoneNumber.objects.for_clinic(clinic).order_by("e164").values()),
        generation(clinic),
    )


def test_a_new_clinic_has_one_receptionist_the_main_line(clinic):
    (row,) = Receptionist.objects.for_clinic(clinic)
    assert (row.name, row.slug, row.version) == ("Main line", "main", 1)
    assert clinic.name in row.greeting
    assert Receptionist.objects.first_of(clinic) == row


def test_numbers_go_to_the_first_receptionist_unless_another_is_chosen(clinic):
    spanish = receptionist_create(clinic=clinic, name="Spanish line", language="es-ES")
    a = services.phone_number_add(clinic=clinic, number=A)
    b = services.phone_number_add(clinic=clinic, number=B, receptionist=spanish.pk)
    assert a.receptionist == Receptionist.objects.first_of(clinic)
    assert b.receptionist == spanish


def test_creating_copies_nothing_unasked_and_names_the_line_from_the_name(clinic):
    row = receptionist_create(clinic=clinic, name="  Línea   en español ", language="es-ES")
    assert row.name == "Línea en español" and row.slug == "linea-en-espanol"
    assert row.language == "es-ES" and row.version == 1
    assert receptionist_create(clinic=clinic, name="Línea en español 2").slug == (
        "linea-en-espanol-2"
    )


@pytest.mark.parametrize(
    ("name", "slug"),
    [("24h line", "h-line"), ("1234", "line"), ("!!!", "line"), ("A" * 60, "a" * 20)],
)
def test_a_line_slug_starts_with_a_letter_so_it_never_looks_like_a_caller(clinic, name, slug):
    assert line_slug(clinic, name) == slug


def test_a_taken_slug_gets_a_suffix_within_twenty_characters(clinic):
    receptionist_create(clinic=clinic, name="b" * 20)
    assert line_slug(clinic, "B" * 25) == "b" * 18 + "-2"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Give the receptionist a name"),
        ("main LINE", "already has a receptionist named"),
        ("two\nlines", "one line of plain text"),
        ("x" * 61, "at most 60 characters"),
    ],
)
def test_bad_names_are_refused_naming_the_field_and_nothing_is_saved(live, name, message):
    before = snapshot(live)
    with pytest.raises(ValidationError) as exc:
        receptionist_create(clinic=live, name=name)
    assert message in " ".join(exc.value.message_dict["name"])
    assert snapshot(live) == before


def test_unknown_settings_and_bad_choices_are_refused(clinic):
    with pytest.raises(ValidationError) as exc:
        receptionist_create(clinic=clinic, name="Billing", colour="blue")
    assert "colour" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        receptionist_create(clinic=clinic, name="Billing", language="xx-XX")
    assert "language" in exc.value.message_dict
    assert Receptionist.objects.for_clinic(clinic).count() == 1


def test_a_clinic_has_at_most_ten_receptionists(clinic):
    for i in range(MAX_RECEPTIONISTS_PER_CLINIC - 1):
        receptionist_create(clinic=clinic, name=f"Line {i}")
    with pytest.raises(ValidationError) as exc:
        receptionist_create(clinic=clinic, name="One too many")
    assert "at most 10" in exc.value.message_dict["name"][0]


def test_an_update_bumps_the_version_and_reprovisions_a_live_clinic(live):
    row = receptionist_create(clinic=live, name="Billing")
    gen = generation(live)
    row = receptionist_update(receptionist=row, greeting="Billing, how can I help?")
    assert row.version == 2 and generation(live) == gen + 1
    same = receptionist_update(receptionist=row, greeting="Billing, how can I help?")
    assert same.version == 2 and generation(live) == gen + 1  # no change, no version
    renamed = receptionist_update(receptionist=row, name="Accounts")
    assert (renamed.name, renamed.slug, renamed.version) == ("Accounts", "billing", 3)


def test_the_agent_settings_service_edits_the_first_receptionist(clinic):
    second = receptionist_create(clinic=clinic, name="Spanish line")
    services.agent_config_update(clinic=clinic, greeting="Hello there")
    assert Receptionist.objects.first_of(clinic).greeting == "Hello there"
    second.refresh_from_db()
    assert second.greeting != "Hello there" and second.version == 1


def test_deleting_moves_its_numbers_to_the_chosen_receptionist(live):
    spanish = receptionist_create(clinic=live, name="Spanish line")
    billing = receptionist_create(clinic=live, name="Billing")
    services.phone_number_add(clinic=live, number=A, receptionist=spanish.pk)
    services.phone_number_add(clinic=live, number=B, receptionist=spanish.pk)
    gen = generation(live)
    receptionist_delete(receptionist=spanish, move_to=billing)
    assert not Receptionist.objects.filter(pk=spanish.pk).exists()
    assert set(billing.numbers.values_list("e164", flat=True)) == {A, B}
    assert generation(live) == gen + 1


def test_deleting_without_a_choice_moves_numbers_to_the_first_other(live):
    main = Receptionist.objects.first_of(live)
    services.phone_number_add(clinic=live, number=A)
    spanish = receptionist_create(clinic=live, name="Spanish line")
    receptionist_delete(receptionist=main)
    assert PhoneNumber.objects.get(e164=A).receptionist == spanish
    assert Receptionist.objects.first_of(live) == spanish  # the next oldest is first now


def test_the_last_receptionist_cannot_be_deleted_and_nothing_changes(live):
    services.phone_number_add(clinic=live, number=A)
    before = snapshot(live)
    with pytest.raises(ValidationError) as exc:
        receptionist_delete(receptionist=Receptionist.objects.first_of(live))
    assert "at least one receptionist" in exc.value.message_dict["receptionist"][0]
    assert snapshot(live) == before


def test_numbers_cannot_move_to_another_clinics_receptionist(live):
    other = make_clinic(name="Other Dental")
    theirs = Receptionist.objects.first_of(other)
    services.phone_number_add(clinic=live, number=A)
    spanish = receptionist_create(clinic=live, name="Spanish line")
    before, before_other = snapshot(live), snapshot(other)
    with pytest.raises(ValidationError) as exc:
        phone_number_assign(clinic=live, e164=A, receptionist=theirs.pk)
    assert "not one of this clinic's receptionists" in exc.value.message_dict["receptionist"][0]
    with pytest.raises(ValidationError) as exc:
        services.phone_number_add(clinic=live, number=B, receptionist=theirs.pk)
    assert "receptionist" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        receptionist_delete(receptionist=spanish, move_to=theirs)
    assert "move_to" in exc.value.message_dict
    assert snapshot(live) == before and snapshot(other) == before_other


@pytest.mark.parametrize("value", [None, "abc", True, 0, 10**30])
def test_a_receptionist_id_that_is_not_one_is_refused(clinic, value):
    services.phone_number_add(clinic=clinic, number=A)
    with pytest.raises(ValidationError) as exc:
        phone_number_assign(clinic=clinic, e164=A, receptionist=value)
    assert "receptionist" in exc.value.message_dict


def test_assigning_reprovisions_only_when_it_changes_something(live):
    services.phone_number_add(clinic=live, number=A)
    spanish = receptionist_create(clinic=live, name="Spanish line")
    gen = generation(live)
    phone = phone_number_assign(clinic=live, e164=A, receptionist=spanish.pk)
    assert phone.receptionist == spanish and generation(live) == gen + 1
    phone_number_assign(clinic=live, e164=A, receptionist=spanish)
    assert generation(live) == gen + 1


def test_the_audit_log_tells_who_added_changed_moved_and_deleted(live):
    services.phone_number_add(clinic=live, number=A)
    spanish = receptionist_create(clinic=live, name="Spanish line")
    receptionist_update(receptionist=spanish, greeting="Hola")
    phone_number_assign(clinic=live, e164=A, receptionist=spanish.pk)
    receptionist_delete(receptionist=spanish)
    events = list(
        AuditEntry.objects.filter(clinic=live).order_by("pk").values_list("event", flat=True)
    )
    tail = [e for e in events if e.startswith(("receptionist.", "number."))]
    assert tail[-6:] == [
        "number.create",
        "receptionist.create",
        "receptionist.update",
        "number.update",
        "number.update",  # moved back to the first when its receptionist was deleted
        "receptionist.delete",
    ]
