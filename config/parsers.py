"""The API's JSON parser: DRF's, plus clear 400s for absurdly deep nesting (instead of
Python's RecursionError, which would be a 500) and for strings that are not text (lone
surrogates, control characters: tenants/text.py), naming the field."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import JSONParser

from tenants.text import first_bad_text, safe_field_name


class SafeJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the document is nested too deeply.") from None
        try:
            check_text(data)
        except RecursionError:  # pragma: no cover - json refuses deeper documents first
            raise ParseError("JSON parse error - the document is nested too deeply.") from None
        return data


def check_text(data: Any) -> None:
    """Refuse, by field, any string in the body that is not acceptable text."""
    if isinstance(data, dict):
        errors = {}
        for key, value in data.items():
            name = safe_field_name(str(key))
            if name != key:
                errors[name] = ["This field name is not valid text; remove it."]
                continue
            problem = first_bad_text(value)
            if problem:
                errors[name] = [problem]
        if errors:
            raise ValidationError(errors)
        return
    problem = first_bad_text(data)
    if problem:
        raise ValidationError({"non_field_errors": [problem]})
