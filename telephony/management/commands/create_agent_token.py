"""`python manage.py create_agent_token NAME`: print a new agent service token, once."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from telephony.agent_tokens import agent_token_create


class Command(BaseCommand):
    help = (
        "Create an agent service token for the voice agent worker and print it. It is shown "
        "only this once (only its hash is stored); put it in the worker's "
        "SWITCHBOARD_AGENT_TOKEN."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="What the token is for, e.g. 'agent-prod-eu'.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            token, raw = agent_token_create(name=options["name"])
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(raw)
        self.stderr.write(
            f"Created agent token {token.name!r} ({token.prefix}…). Store it now: it cannot "
            "be shown again. Revoke it in the admin under Agent tokens."
        )
