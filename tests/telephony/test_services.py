"""Telephony services against the real database."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from telephony import publishing, services
from telephony.crypto import decrypt
from telephony.models import PhoneNumber, Provisioning, Receptionist, TrunkSettings
from tests.factories import UserFactory, make_clinic

pytestmark = pytest.mark.django_db


def test_a_number_is_normalised_and_owned_once(clinic):
    services.phone_number_add(clinic=clinic, number="+1 (415) 555-0100")
    other = make_clinic(UserFactory(), "Other")

    with pytest.raises(ValidationError) as err:
        services.phone_number_add(clinic=other, number="+14155550100")

    assert "another clinic" in err.value.message_dict["e164"][0]
    assert list(PhoneNumber.objects.values_list("e164", "clinic")) == [("+14155550100", clinic.pk)]


def test_a_malformed_number_names_the_field_and_stores_nothing(clinic):
    with pytest.raises(ValidationError) as err:
        services.phone_number_add(clinic=clinic, number="tel:+14155550100")
    assert "e164" in err.value.message_dict
    assert not PhoneNumber.objects.exists()


def test_changes_to_a_draft_do_not_provision(clinic, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        services.phone_number_add(clinic=clinic, number="+14155550100")
    assert callbacks == []
    assert Provisioning.objects.get(clinic=clinic).generation == 0


def test_changes_to_a_live_clinic_bump_the_generation_and_enqueue_once(
    clinic, owner, django_capture_on_commit_callbacks, monkeypatch
):
    published = []
    monkeypatch.setattr(publishing, "_publish", lambda cid, verify: published.append(cid))
    services.phone_number_add(clinic=clinic, number="+14155550100")
    with django_capture_on_commit_callbacks(execute=True):
        services.clinic_go_live(clinic=clinic, actor=owner)
    with django_capture_on_commit_callbacks(execute=True):
        services.agent_config_update(clinic=clinic, greeting="Hello!")

    prov = Provisioning.objects.get(clinic=clinic)
    assert (prov.generation, prov.state) == (2, "pending")
    assert published == [str(clinic.pk)] * 2
    assert Receptionist.objects.get(clinic=clinic).version == 2


def test_go_live_needs_a_number_and_a_verified_email(clinic, owner):
    owner.email_verified_at = None
    with pytest.raises(services.ProvisioningError) as err:
        services.clinic_go_live(clinic=clinic, actor=owner)
    assert "phone number" in err.value.message and "Verify your email" in err.value.message


def test_a_live_clinic_keeps_at_least_one_number(clinic, owner):
    services.phone_number_add(clinic=clinic, number="+14155550100")
    services.clinic_go_live(clinic=clinic, actor=owner)
    with pytest.raises(ValidationError):
        services.phone_number_remove(clinic=clinic, e164="+14155550100")


def test_the_sip_password_is_encrypted_at_rest_and_kept_when_blank(clinic):
    services.trunk_settings_update(
        clinic=clinic, auth_username="carrier", auth_password="s3cret-pass-word"
    )
    services.trunk_settings_update(clinic=clinic, auth_username="carrier", auth_password="")

    with connection.cursor() as cur:
        cur.execute(
            "SELECT auth_password FROM telephony_trunksettings WHERE clinic_id = %s", [clinic.pk]
        )
        (raw,) = cur.fetchone()
    assert raw.startswith("gAAAAA") and "s3cret" not in raw
    assert decrypt(raw) == "s3cret-pass-word"
    assert TrunkSettings.objects.get(clinic=clinic).auth_password == "s3cret-pass-word"


def test_addresses_are_validated_and_named(clinic):
    with pytest.raises(ValidationError) as err:
        services.trunk_settings_update(clinic=clinic, allowed_addresses=["192.0.2.1", "nope!"])
    assert "allowed_addresses" in err.value.message_dict


@pytest.mark.django_db(transaction=True)
def test_two_clinics_racing_for_one_number_exactly_one_wins():
    a = make_clinic(UserFactory(), "Race A")
    b = make_clinic(UserFactory(), "Race B")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def claim(clinic):
        try:
            barrier.wait()
            services.phone_number_add(clinic=clinic, number="+14155550199")
            outcomes.append("won")
        except ValidationError as exc:
            outcomes.append(exc.message_dict["e164"][0])
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(c,)) for c in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(outcomes)[1] == "won" and outcomes.count("won") == 1
    assert PhoneNumber.objects.filter(e164="+14155550199").count() == 1


def test_saving_unchanged_carrier_settings_does_not_reprovision(clinic, owner):
    services.phone_number_add(clinic=clinic, number="+14155550100")
    services.clinic_go_live(clinic=clinic, actor=owner)
    services.trunk_settings_update(clinic=clinic, allowed_addresses=["192.0.2.1"])
    generation = Provisioning.objects.get(clinic=clinic).generation

    services.trunk_settings_update(
        clinic=clinic, allowed_addresses=["192.0.2.1"], auth_username="", krisp_enabled=True
    )

    assert Provisioning.objects.get(clinic=clinic).generation == generation
