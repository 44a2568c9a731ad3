"""Signup, clinics and room prefixes."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from telephony.models import Provisioning, Receptionist, TrunkSettings
from tenants.models import Clinic, Membership
from tenants.services import (
    clinic_update,
    prefix_conflict,
    user_signup,
    user_verify_email,
    verification_token,
)

pytestmark = pytest.mark.django_db


def test_signup_creates_owner_clinic_defaults_and_sends_a_link(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        user, clinic = user_signup(
            email="Ana@Bright.Example", password="a-Long-passw0rd!", clinic_name="Bright Smile"
        )

    assert user.email == "ana@bright.example" and not user.email_verified
    assert Membership.objects.get(user=user, clinic=clinic).role == "owner"
    assert Provisioning.objects.get(clinic=clinic).state == "new"
    assert TrunkSettings.objects.filter(clinic=clinic).exists()
    assert "Bright Smile" in Receptionist.objects.get(clinic=clinic).instructions
    assert "/verify-email/" in mail.outbox[0].body


def test_signup_errors_name_each_field():
    user_signup(email="x@y.example", password="a-Long-passw0rd!", clinic_name="X Clinic")
    with pytest.raises(ValidationError) as err:
        user_signup(email="X@y.example", password="123", clinic_name="")
    assert set(err.value.message_dict) == {"email", "password"}
    with pytest.raises(ValidationError) as err:
        user_signup(email="z@y.example", password="a-Long-passw0rd!", clinic_name="")
    assert "clinic_name" in err.value.message_dict
    assert Clinic.objects.count() == 1


def test_room_prefixes_never_start_one_another(owner):
    from tests.factories import make_clinic

    clinics = [make_clinic(owner, "Bright") for _ in range(5)]
    clinics.append(make_clinic(owner, "Bright Smile"))
    prefixes = [c.room_prefix for c in clinics]
    for p in prefixes:
        assert "_" not in p and 3 <= len(p) <= 40
        assert [q for q in prefixes if q != p and (q.startswith(p) or p.startswith(q))] == []


def test_a_prefix_another_clinic_has_is_refused(clinic, owner):
    from tests.factories import make_clinic

    other = make_clinic(owner, "Other")
    assert prefix_conflict(clinic.room_prefix) == clinic
    assert prefix_conflict(clinic.room_prefix + "x") is None
    with pytest.raises(ValidationError) as err:
        clinic_update(clinic=other, room_prefix=clinic.room_prefix)
    assert "room_prefix" in err.value.message_dict
    with pytest.raises(ValidationError):
        clinic_update(clinic=other, room_prefix="Has_Underscore")


def test_verification_links_verify_and_expire(owner, settings):
    owner.email_verified_at = None
    owner.save()
    token = verification_token(owner)
    assert user_verify_email(token=token).email_verified
    with pytest.raises(ValidationError):
        user_verify_email(token=token + "x")
