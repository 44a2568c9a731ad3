"""Flag parsers the carrier emulators share."""

from __future__ import annotations

import argparse
import re

E164_RE = re.compile(r"^\+[1-9][0-9]{7,14}$")


def parse_numbers(raw: str) -> tuple[str, ...]:
    """``--numbers +14155550100,+14155550101``: E.164 numbers, comma-separated."""
    numbers = tuple(n.strip() for n in raw.split(",") if n.strip())
    for number in numbers:
        if not E164_RE.match(number):
            raise argparse.ArgumentTypeError(f"{number!r} is not an E.164 number (+15551230000)")
    return numbers
