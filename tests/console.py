"""Helpers for the staff console tests: staff users in each group, clinics made cheaply."""

from __future__ import annotations

import itertools
import re
import uuid

from django.contrib.auth.models import Group

from telephony.models import PhoneNumber, Provisioning, ProvisioningEvent, Receptionist
from tenants.models import Clinic
from tests.factories import UserFactory

_numbers = itertools.count(1)


def staff_in(group: str | None, **extra):
    """A staff user in the named group (created by the data migration), or a superuser."""
    if group is None:
        return UserFactory(is_staff=True, is_superuser=True, **extra)
    user = UserFactory(is_staff=True, **extra)
    user.groups.add(Group.objects.get(name=group))
    return user


def next_number() -> str:
    return f"+1650{next(_numbers):07d}"


def bulk_clinics(n: int, *, numbers_each: int = 2, events_each: int = 3, state: str = "live"):
    """n live, provisioned clinics with numbers and events, in a handful of queries.

    The services would take seconds for 200 clinics; the changelist only reads rows.
    """
    tag = uuid.uuid4().hex[:6]
    clinics = Clinic.objects.bulk_create(
        [
            Clinic(
                name=f"Bulk {tag} {i:05d}",
                slug=f"b{tag}-{i:05d}",
                room_prefix=f"b{tag}-{i:05d}",
                state=state,
            )
            for i in range(n)
        ]
    )
    Provisioning.objects.bulk_create(
        [
            Provisioning(
                clinic=c,
                state="active",
                generation=1,
                observed_generation=1,
                trunk_id=f"ST_{tag}{i:05d}",
                dispatch_rule_id=f"SDR_{tag}{i:05d}",
                attempts=0,
            )
            for i, c in enumerate(clinics)
        ]
    )
    receptionists = Receptionist.objects.bulk_create(
        [
            Receptionist(clinic=c, name="Main line", slug="main", greeting="Hi.", instructions="x")
            for c in clinics
        ]
    )
    PhoneNumber.objects.bulk_create(
        [
            PhoneNumber(clinic=c, receptionist=r, e164=next_number())
            for c, r in zip(clinics, receptionists, strict=True)
            for _ in range(numbers_each)
        ]
    )
    ProvisioningEvent.objects.bulk_create(
        [
            ProvisioningEvent(clinic=c, action="create_trunk", detail="x")
            for c in clinics
            for _ in range(events_each)
        ]
    )
    return clinics


def row_ids(html: str) -> list[str]:
    """The clinic pks listed on a changelist page (one checkbox per row)."""
    return re.findall(r'name="_selected_action" value="([0-9a-f-]{36})"', html)
