"""Plain forms for the hours, the clinic's facts and after-hours behaviour. They collect what
people type; the services (frontdesk.services) check it, and their errors land on the field."""

from __future__ import annotations

from typing import Any

from django import forms

from frontdesk.hours import DAY_NAMES, hhmm
from frontdesk.models import AfterHours, FrontDesk
from tenants.timezones import choices as zone_choices

TIME_ATTRS = {"placeholder": "09:00", "inputmode": "numeric", "size": 6, "autocomplete": "off"}
# Two opening periods a day on the form (morning and afternoon, around a lunch break); the
# API takes more.
PERIODS_ON_FORM = 2


def _time_field(label: str) -> forms.CharField:
    return forms.CharField(
        label=label, required=False, max_length=5, widget=forms.TextInput(attrs=TIME_ATTRS)
    )


class HoursForm(forms.Form):
    timezone = forms.ChoiceField(label="Time zone", choices=())
    closures = forms.CharField(
        label="Days you are closed (holidays, closures)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "placeholder": "2026-12-25 Christmas Day"}),
        help_text="One day per line: the date as year-month-day, then what it is for. "
        "The whole day counts as closed.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["timezone"].choices = zone_choices()
        for day, name in enumerate(DAY_NAMES):
            for n in range(PERIODS_ON_FORM):
                suffix = "" if n == 0 else " (after a break)"
                self.fields[f"d{day}_{n}_opens"] = _time_field(f"{name} opens{suffix}")
                self.fields[f"d{day}_{n}_closes"] = _time_field(f"{name} closes{suffix}")

    @staticmethod
    def initial_for(desk: FrontDesk, zone: str) -> dict[str, Any]:
        initial: dict[str, Any] = {"timezone": zone}
        used: dict[int, int] = {}
        for period in desk.weekly:
            n = used.get(period["day"], 0)
            if n < PERIODS_ON_FORM:
                initial[f"d{period['day']}_{n}_opens"] = hhmm(period["opens"])
                initial[f"d{period['day']}_{n}_closes"] = hhmm(period["closes"])
            used[period["day"]] = n + 1
        initial["closures"] = "\n".join(f"{c['date']} {c['reason']}".strip() for c in desk.closures)
        return initial

    def days(self) -> list[tuple[str, list[tuple[Any, Any]]]]:
        """For the template: each day with its (opens, closes) bound fields."""
        return [
            (
                name,
                [
                    (self[f"d{day}_{n}_opens"], self[f"d{day}_{n}_closes"])
                    for n in range(PERIODS_ON_FORM)
                ],
            )
            for day, name in enumerate(DAY_NAMES)
        ]

    def weekly(self) -> tuple[list[dict[str, Any]], list[str]]:
        """The periods as the API takes them, and the form field of each (for errors)."""
        rows, fields = [], []
        for day in range(7):
            for n in range(PERIODS_ON_FORM):
                opens = self.cleaned_data.get(f"d{day}_{n}_opens", "").strip()
                closes = self.cleaned_data.get(f"d{day}_{n}_closes", "").strip()
                if not opens and not closes:
                    continue
                rows.append({"day": day, "opens": opens, "closes": closes})
                fields.append(f"d{day}_{n}")
        return rows, fields

    def closure_rows(self) -> list[dict[str, str]]:
        rows = []
        for line in self.cleaned_data.get("closures", "").splitlines():
            if line.strip():
                day, _, reason = line.strip().partition(" ")
                rows.append({"date": day, "reason": reason.strip()})
        return rows


def _lines(label: str, help_text: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=help_text,
    )


class ClinicInfoForm(forms.Form):
    address = forms.CharField(
        label="Address", required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    directions = forms.CharField(
        label="How to find you",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Parking, the entrance, the nearest bus stop: what callers ask.",
    )
    services = _lines("Services you offer", "One per line, e.g. Check-ups.")
    insurers = _lines("Insurance you accept", "One insurer or plan per line.")
    languages = _lines("Languages your staff speak", "One per line, e.g. Spanish.")
    emergency_number = forms.CharField(
        label="Emergency number",
        required=False,
        max_length=64,
        help_text="The number callers are given when you are closed and it is urgent.",
    )
    faqs = forms.CharField(
        label="Questions callers often ask",
        required=False,
        widget=forms.Textarea(
            attrs={"rows": 8, "placeholder": "Q: Do you see children?\nA: Yes, from age 3."}
        ),
        help_text='Start each question with "Q:" and its answer on the next line with "A:"; '
        "leave an empty line between them.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    @staticmethod
    def initial_for(desk: FrontDesk) -> dict[str, Any]:
        return {
            "address": desk.address,
            "directions": desk.directions,
            "services": "\n".join(desk.services),
            "insurers": "\n".join(desk.insurers),
            "languages": "\n".join(desk.languages),
            "emergency_number": desk.emergency_number,
            "faqs": "\n\n".join(f"Q: {f['question']}\nA: {f['answer']}" for f in desk.faqs),
        }

    def changes(self) -> dict[str, Any]:
        data = self.cleaned_data
        out: dict[str, Any] = {
            "address": data["address"],
            "directions": data["directions"],
            "emergency_number": data["emergency_number"],
        }
        for field in ("services", "insurers", "languages"):
            out[field] = [line.strip() for line in data[field].splitlines() if line.strip()]
        out["faqs"] = parse_faqs(data["faqs"])
        return out


def parse_faqs(text: str) -> list[dict[str, str]]:
    """ "Q: …" / "A: …" blocks -> [{"question", "answer"}]; a question without an answer
    keeps an empty answer, which the service refuses by name."""
    faqs: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if line[:2].lower() == "q:":
            current = {"question": line[2:].strip(), "answer": ""}
            faqs.append(current)
        elif line[:2].lower() == "a:" and current is not None:
            current["answer"] = line[2:].strip()
        elif line and current is not None:
            key = "answer" if current["answer"] else "question"
            current[key] = f"{current[key]} {line}".strip()
        elif line:
            current = {"question": line, "answer": ""}
            faqs.append(current)
    return faqs


class AfterHoursForm(forms.Form):
    action = forms.ChoiceField(
        label="When you are closed, the receptionist should",
        choices=AfterHours.Action.choices,
        widget=forms.RadioSelect,
    )
    route_to = forms.TypedChoiceField(
        label="Receptionist who answers instead",
        required=False,
        coerce=int,
        empty_value=None,
        help_text="Only for “Hand the call to another receptionist”.",
    )
    greeting = forms.CharField(
        label="Greeting when closed",
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Leave empty to use a short greeting that says you are closed.",
    )
    instructions = forms.CharField(
        label="Instructions when closed",
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="Anything else it should do or say while you are closed.",
    )

    def __init__(self, *args: Any, others: list[tuple[int, str]], **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["route_to"].choices = [("", "Nobody chosen"), *others]
