"""IDs and phone-number normalisation, as LiveKit generates and compares them.

Reference: livekit-sip.md §5.1 (``guid.New``) and §4.1 (``NormalizeNumber``).
"""

from __future__ import annotations

import re
import secrets

# The shortuuid alphabet LiveKit's guid package draws from: 57 characters, no 0, 1, I, O or l.
ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
ID_RANDOM_LENGTH = 12

TRUNK_PREFIX = "ST_"
RULE_PREFIX = "SDR_"
CALL_PREFIX = "SCL_"
ROOM_PREFIX = "RM_"
PARTICIPANT_PREFIX = "PA_"
EVENT_PREFIX = "EV_"

# Go's \d is ASCII-only; Python's is not, so spell the digits out.
_NUMBER_RE = re.compile(r"^\+?[0-9\- ()]+$")
_STRIP = str.maketrans("", "", " -()")


def new_id(prefix: str = "") -> str:
    """``prefix`` + 12 random characters of the shortuuid alphabet (crypto-grade randomness)."""
    return prefix + "".join(secrets.choice(ALPHABET) for _ in range(ID_RANDOM_LENGTH))


def normalize_number(number: str) -> str:
    """LiveKit's ``NormalizeNumber``.

    A number made only of digits, spaces, ``-``, ``(`` and ``)`` (optionally with a leading ``+``)
    loses the formatting characters and gains a leading ``+``. Anything else (a SIP user name,
    say) is returned unchanged, as is the empty string.
    """
    if not number or not _NUMBER_RE.match(number):
        return number
    stripped = number.translate(_STRIP)
    return stripped if stripped.startswith("+") else "+" + stripped


def go_quote(text: str) -> str:
    """Approximate Go's ``%q`` for a string (``strconv.Quote``), for error messages."""
    out = ['"']
    for ch in text:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def go_quote_list(items: list[str]) -> str:
    """Go's ``%q`` applied to a ``[]string``: ``["a" "b"]``."""
    return "[" + " ".join(go_quote(item) for item in items) + "]"
