"""What text the platform accepts: no lone surrogates, no control characters.

A lone UTF-16 surrogate ("\\ud800") is valid in a JSON string but is not text: it cannot be
encoded as UTF-8, so PostgreSQL, the JSON renderer and email would all fail on it later. Control
characters (NUL, escape, CR/LF in a one-line name...) break emails, logs and the database.
The API's JSON parser refuses both anywhere in a body (tab, CR and LF are allowed in
multi-line text); one-line fields such as names also refuse tab, CR and LF.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from django.core.exceptions import ValidationError

MULTILINE_OK = frozenset("\t\n\r")

SURROGATE_MESSAGE = (
    "Contains a lone UTF-16 surrogate, which is not valid text; send the text as UTF-8 "
    "(every \\ud800-\\udfff escape must be one half of a pair)."
)
CONTROL_MESSAGE = (
    "Contains a control character (such as NUL or escape); remove it and send plain text."
)
ONE_LINE_MESSAGE = (
    "Use one line of plain text: line breaks, tabs and other control characters are not "
    "allowed here."
)


def has_surrogate(value: str) -> bool:
    return any("\ud800" <= ch <= "\udfff" for ch in value)


def has_control(value: str, *, multiline: bool) -> bool:
    """C0/C1 controls and DEL (category Cc); tab, CR and LF only count when not multiline."""
    return any(
        unicodedata.category(ch) == "Cc" and not (multiline and ch in MULTILINE_OK) for ch in value
    )


def text_problem(value: str, *, multiline: bool = True) -> str | None:
    """The sentence saying what is wrong with `value`, or None when it is acceptable text."""
    if has_surrogate(value):
        return SURROGATE_MESSAGE
    if has_control(value, multiline=True):
        return CONTROL_MESSAGE
    if not multiline and has_control(value, multiline=False):
        return ONE_LINE_MESSAGE
    return None


def clean_text(value: object, field: str, limit: int, *, multiline: bool = True) -> str:
    """`value` as stored text: a string of acceptable characters (checked before stripping,
    so a one-line field refuses a trailing newline), stripped, at most `limit` long.
    Otherwise a ValidationError on `field` with the sentence that says what to send."""
    if not isinstance(value, str):
        raise ValidationError({field: ["Send text."]})
    problem = text_problem(value, multiline=multiline)
    if problem:
        raise ValidationError({field: [problem]})
    value = value.strip()
    if len(value) > limit:
        raise ValidationError({field: [f"Keep it to {limit} characters or fewer."]})
    return value


def first_bad_text(data: Any) -> str | None:
    """The sentence for the first string in a parsed JSON value that is not acceptable
    text (dictionary keys included), or None."""
    if isinstance(data, str):
        return text_problem(data)
    if isinstance(data, dict):
        for key, value in data.items():
            problem = first_bad_text(str(key)) or first_bad_text(value)
            if problem:
                return problem
    if isinstance(data, list):
        for value in data:
            problem = first_bad_text(value)
            if problem:
                return problem
    return None


def safe_field_name(name: str) -> str:
    """A field name fit to echo in an error: bad characters as backslash escapes."""
    if text_problem(name) is None:
        return name
    return name.encode("unicode_escape").decode("ascii")


def validate_display_name(value: str, *, field: str) -> None:
    """A name people see (a clinic's name, a number's label): one line of plain text."""
    problem = text_problem(value, multiline=False)
    if problem:
        raise ValidationError({field: problem})


def one_line(value: str) -> str:
    """`value` with every run of whitespace and control characters made one space (for an
    email subject, which may not contain line breaks)."""
    cleaned = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in value)
    return " ".join(cleaned.split())
