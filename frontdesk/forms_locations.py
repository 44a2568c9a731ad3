"""Plain forms for a clinic's locations: the new location's name, and one location's facts,
its own hours (the clinic's hours form, with "the clinic's time zone" as a choice) and the
receptionists answering for it. The services (frontdesk.locations) check what is typed."""

from __future__ import annotations

from typing import Any

from django import forms

from frontdesk.forms import HoursForm
from frontdesk.models import Location
from tenants.timezones import zone_name


class LocationAddForm(forms.Form):
    name = forms.CharField(
        label="Name of the location",
        max_length=200,
        help_text="What callers and your team call it, e.g. “Downtown” or “Oak Street”.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class LocationForm(HoursForm):
    name = forms.CharField(label="Name of the location", max_length=200)
    address = forms.CharField(
        label="Address", required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    directions = forms.CharField(
        label="How to find this location",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Parking, the entrance, the nearest bus stop.",
    )
    own_hours = forms.BooleanField(
        label="This location has its own opening hours",
        required=False,
        help_text="Unticked, it follows the clinic's opening hours.",
    )
    receptionists = forms.TypedMultipleChoiceField(
        label="Receptionists answering for this location",
        required=False,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        help_text="They give this location's address and directions, and follow its hours "
        "if it has its own. A receptionist answers for one location at most.",
    )

    field_order = ("name", "address", "directions", "receptionists", "own_hours", "timezone")

    def __init__(
        self, *args: Any, clinic_zone: str, lines: list[tuple[int, str]], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        zone = self.fields["timezone"]
        zone.required = False
        zone.choices = [("", f"The clinic's: {zone_name(clinic_zone)}"), *zone.choices]
        zone.help_text = "Only used for this location's own hours."
        self.fields["closures"].label = "Days this location is closed (holidays, closures)"
        self.fields["receptionists"].choices = lines
        self.order_fields(self.field_order)

    @staticmethod
    def initial_for_location(row: Location, receptionist_ids: list[int]) -> dict[str, Any]:
        initial = HoursForm.initial_for(row, row.timezone)  # type: ignore[arg-type]
        initial.update(
            name=row.name,
            address=row.address,
            directions=row.directions,
            own_hours=row.own_hours,
            receptionists=receptionist_ids,
        )
        return initial

    def hours(self) -> tuple[dict[str, Any] | None, list[str]]:
        """`hours` as the API takes it (None: the clinic's), and the weekly fields."""
        weekly, fields = self.weekly()
        if not self.cleaned_data.get("own_hours"):
            return None, fields
        zone = self.cleaned_data.get("timezone") or None
        return {"timezone": zone, "weekly": weekly, "closures": self.closure_rows()}, fields
