"""Factories: every tenant-owned object gets its clinic from its parent, so a cross-tenant
object can only be built on purpose."""

from __future__ import annotations

import factory
from django.utils import timezone

from telephony.models import PhoneNumber, Receptionist
from tenants.models import Clinic, Membership, User
from tenants.services import clinic_create


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.org")
    email_verified_at = factory.LazyFunction(timezone.now)
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery-9")

    @factory.post_generation
    def _save(self, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            self.save()


def make_clinic(owner: User | None = None, name: str = "Bright Smile Dental") -> Clinic:
    """A clinic through the real service (provisioning, carrier and agent rows included)."""
    return clinic_create(owner=owner or UserFactory(), name=name)


def add_member(clinic: Clinic, role: str, user: User | None = None) -> User:
    user = user or UserFactory()
    Membership.objects.create(clinic=clinic, user=user, role=role)
    return user


class PhoneNumberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PhoneNumber

    clinic = factory.LazyFunction(make_clinic)
    receptionist = factory.LazyAttribute(lambda o: Receptionist.objects.first_of(o.clinic))
    e164 = factory.Sequence(lambda n: f"+1415555{n % 10000:04d}")
