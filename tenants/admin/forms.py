"""The clinic change page's form: the LiveKit project may be pinned only while LiveKit holds
nothing of the clinic's (afterwards the clinic is moved, which is not an edit)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from telephony.models import LiveKitProject
from telephony.projects import has_upstream_objects, project_of
from tenants.models import Clinic


class ClinicAdminForm(forms.ModelForm):
    class Meta:
        model = Clinic
        fields = ("name", "timezone", "livekit_project", "may_bring_livekit_project")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields.get("livekit_project")
        if field is not None:
            field.required = False
            field.help_text = (
                "Pin the clinic to a project before it goes live. Once LiveKit holds its "
                "objects, it is moved instead (docs/operations.md)."
            )
            if self.instance.pk is not None and self.instance.livekit_project_id is None:
                self.initial["livekit_project"] = project_of(self.instance).pk

    def clean_livekit_project(self) -> LiveKitProject | None:
        wanted: LiveKitProject | None = self.cleaned_data.get("livekit_project")
        if wanted is None:
            return project_of(self.instance) if self.instance.pk else None
        if "livekit_project" not in self.changed_data or self.instance.pk is None:
            return wanted
        if has_upstream_objects(self.instance):
            raise ValidationError(
                "LiveKit already holds this clinic's objects in project "
                f"'{project_of(self.instance).name}': move the clinic instead of pinning it."
            )
        if wanted.status != LiveKitProject.Status.ACTIVE:
            raise ValidationError(
                f"Project '{wanted.name}' is {wanted.status}; pick an active one."
            )
        if wanted.owner_clinic_id not in (None, self.instance.pk):
            raise ValidationError(f"Project '{wanted.name}' is another clinic's own project.")
        return wanted
