"""`python manage.py erase_caller CLINIC_SLUG +14155550123`: a caller's erasure request."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from telephony.outcomes import erase_caller
from telephony.validators import normalize_e164
from tenants.models import Clinic


class Command(BaseCommand):
    help = (
        "Delete every call from one caller number in a clinic, with its outcome, transcript "
        "and webhook events (the admin's 'Erase a caller' does the same)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("clinic", help="The clinic's slug.")
        parser.add_argument("number", help="The caller's number, e.g. +14155550123.")

    def handle(self, *args: Any, **options: Any) -> None:
        clinic = Clinic.objects.filter(slug=options["clinic"]).first()
        if clinic is None:
            raise CommandError(f"clinic: no clinic has the slug {options['clinic']!r}.")
        try:
            number = normalize_e164(options["number"])
        except ValidationError as exc:
            raise CommandError(f"number: {' '.join(exc.messages)}") from None
        erased = erase_caller(clinic=clinic, number=number)
        self.stdout.write(
            f"Erased {erased.calls} call(s), {erased.outcomes} outcome(s), "
            f"{erased.messages} message(s) and "
            f"{erased.events} webhook event(s) from {clinic.slug}."
        )
