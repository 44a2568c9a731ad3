"""What the receptionist knows about the clinic: checking the structured fields people send
(API and forms share these rules) before anything is saved."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from telephony.validators import normalize_e164
from tenants.text import clean_text
from tenants.timezones import clinic_region

LIST_FIELDS = {"services": "service", "insurers": "insurer", "languages": "language"}
TEXT_LIMITS = {"address": 500, "directions": 1000}
MAX_ITEMS = 50
MAX_ITEM = 120
MAX_FAQS = 30
MAX_QUESTION = 200
MAX_ANSWER = 1000
FIELDS = ("address", "directions", *LIST_FIELDS, "emergency_number", "faqs")


def _items(value: object, field: str, noun: str) -> list[str]:
    if not isinstance(value, list):
        raise ValidationError({field: [f"Send a list, one {noun} per entry."]})
    if len(value) > MAX_ITEMS:
        raise ValidationError({field: [f"At most {MAX_ITEMS} entries."]})
    found: list[str] = []
    for i, item in enumerate(value):
        text = clean_text(item, f"{field}[{i}]", MAX_ITEM, multiline=False)
        if text and text not in found:
            found.append(text)
    return found


def _faqs(value: object) -> list[dict[str, str]]:
    if not isinstance(value, list):
        raise ValidationError({"faqs": ['Send a list of {"question", "answer"} pairs.']})
    if len(value) > MAX_FAQS:
        raise ValidationError({"faqs": [f"At most {MAX_FAQS} questions."]})
    found = []
    for i, row in enumerate(value):
        if not isinstance(row, dict) or set(row) != {"question", "answer"}:
            raise ValidationError({f"faqs[{i}]": ['Each entry is {"question", "answer"}.']})
        question = clean_text(row["question"], f"faqs[{i}].question", MAX_QUESTION, multiline=False)
        answer = clean_text(row["answer"], f"faqs[{i}].answer", MAX_ANSWER)
        if not question or not answer:
            raise ValidationError({f"faqs[{i}]": ["Give both the question and its answer."]})
        found.append({"question": question, "answer": answer})
    return found


def clean_knowledge(clinic: Any, data: dict[str, Any]) -> dict[str, Any]:
    """The fields given, checked and normalised; unknown fields are refused by name."""
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise ValidationError({unknown[0]: [f"Unknown field; the fields are {', '.join(FIELDS)}."]})
    clean: dict[str, Any] = {}
    for field, value in data.items():
        if field in TEXT_LIMITS:
            clean[field] = clean_text(value, field, TEXT_LIMITS[field])
        elif field in LIST_FIELDS:
            clean[field] = _items(value, field, LIST_FIELDS[field])
        elif field == "faqs":
            clean[field] = _faqs(value)
        else:
            raw = clean_text(value, field, 64, multiline=False)
            try:
                clean[field] = normalize_e164(raw, clinic_region(clinic)) if raw else ""
            except ValidationError as exc:
                raise ValidationError({field: exc.messages}) from None
    return clean
