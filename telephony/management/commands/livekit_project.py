"""`manage.py livekit_project add|list|rotate-key`: LiveKit projects from a shell.

Secrets are read from a file (never from the command line, where `ps` and shell history
would keep them) and never printed.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from telephony.models import LiveKitProject
from telephony.projects import register_project, set_credentials, summaries


def _secret(path: str) -> str:
    try:
        value = Path(path).read_text().strip()
    except OSError as exc:
        raise CommandError(f"--api-secret-file: cannot read {path}: {exc.strerror}.") from None
    if not value:
        raise CommandError(f"--api-secret-file: {path} is empty; put the API secret in it.")
    return value


def _fail(exc: ValidationError) -> CommandError:
    flags = {"name": "NAME", "api_secret": "--api-secret-file", "capacity_weight": "--weight"}
    lines = [
        f"{flags.get(field, '--' + field.replace('_', '-'))}: {' '.join(messages)}"
        for field, messages in exc.message_dict.items()
    ]
    return CommandError("\n".join(lines))


class Command(BaseCommand):
    help = "Register, list and re-key the LiveKit projects clinics are placed in."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="register a project (its credentials are checked first)")
        add.add_argument("name")
        add.add_argument("--url", required=True, help="the LiveKit server URL")
        add.add_argument("--api-key", required=True)
        add.add_argument("--api-secret-file", required=True, help="a file holding the secret")
        add.add_argument("--sip-uri", required=True, help="what clinics give their carrier")
        add.add_argument(
            "--sip-fallback-uri",
            default="",
            help="optional: where carriers set up by Switchboard send calls when the SIP URI "
            "does not answer",
        )
        add.add_argument("--region", default="", help="a label such as eu or us")
        add.add_argument("--weight", type=int, default=1, help="capacity weight (default 1)")
        add.add_argument("--closed", action="store_true", help="do not place new clinics here")
        add.add_argument(
            "--no-check", action="store_true", help=argparse.SUPPRESS
        )  # tests and offline set-ups only
        sub.add_parser("list", help="every project, its clinics, never a secret")
        rotate = sub.add_parser("rotate-key", help="give a project a new API key and secret")
        rotate.add_argument("name")
        rotate.add_argument("--api-key", required=True)
        rotate.add_argument("--api-secret-file", required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "list":
            self._list()
            return
        try:
            if action == "add":
                if options["weight"] < 1:
                    raise CommandError("--weight: use a whole number of 1 or more.")
                project = register_project(
                    name=options["name"],
                    url=options["url"],
                    api_key=options["api_key"],
                    api_secret=_secret(options["api_secret_file"]),
                    sip_uri=options["sip_uri"],
                    sip_fallback_uri=options["sip_fallback_uri"],
                    region=options["region"],
                    weight=options["weight"],
                    accepting=not options["closed"],
                    check=not options["no_check"],
                )
                state = "closed to new clinics" if options["closed"] else "open to new clinics"
                self.stdout.write(
                    f"Added LiveKit project {project.name} "
                    f"(region {project.region or '-'}, weight {project.capacity_weight}, {state})."
                )
            else:
                found = LiveKitProject.objects.filter(name=options["name"]).first()
                if found is None:
                    raise CommandError(f"No LiveKit project is named '{options['name']}'.")
                set_credentials(
                    found,
                    api_key=options["api_key"],
                    api_secret=_secret(options["api_secret_file"]),
                )
                self.stdout.write(f"Project {found.name} now uses API key {found.api_key}.")
        except ValidationError as exc:
            raise _fail(exc) from None

    def _list(self) -> None:
        header = (
            "NAME",
            "REGION",
            "WEIGHT",
            "NEW CLINICS",
            "STATUS",
            "CLINICS",
            "URL",
            "API KEY",
            "SIP URI",
        )
        rows = [
            (
                s.name + (" (environment)" if s.from_environment else ""),
                s.region or "-",
                str(s.capacity_weight),
                "open" if s.open else "closed",
                s.status,
                str(s.clinics),
                s.url,
                s.api_key,
                s.sip_uri,
            )
            for s in summaries()
        ]
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            self.stdout.write(
                "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            )
