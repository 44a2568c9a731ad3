"""Staff admin for LiveKit projects (imported by telephony.admin).

Who sees what: superusers add and change projects; the operator group may view the project
pages (URL, API key, weight; never a secret); support sees only a clinic's project name, on
the clinic pages. Secrets are write-only: the form never renders them back, and leaving the
box empty keeps the stored one. A new project, and a changed URL, key or secret, is checked
with one read call before it is saved.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest

from audit.recorder import record
from telephony.models import LiveKitProject
from telephony.projects import check_credentials

SECRET_FIELDS = ("api_secret", "webhook_secret")
ENVIRONMENT_FIELDS = (
    "url",
    "api_key",
    "api_secret",
    "sip_uri",
    "sip_fallback_uri",
    "webhook_key",
    "webhook_secret",
)


class LiveKitProjectForm(forms.ModelForm):
    url = forms.URLField(label="Server URL", required=False, max_length=300, assume_scheme="https")
    api_secret = forms.CharField(
        label="API secret",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Write-only: never shown again. Leave empty to keep the stored secret.",
    )
    webhook_secret = forms.CharField(
        label="Webhook API secret",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Only if webhooks are signed with another key. Write-only; empty keeps it.",
    )

    class Meta:
        model = LiveKitProject
        fields = (
            "name",
            "region",
            "capacity_weight",
            "rate_limit_per_minute",
            "accepting_new_clinics",
            "status",
            "url",
            "api_key",
            "api_secret",
            "sip_uri",
            "sip_fallback_uri",
            "webhook_key",
            "webhook_secret",
        )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        if self.instance.pk is None and name == "default":
            raise ValidationError("'default' is the environment's project; use another name.")
        return name

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        project = self.instance
        if project.from_environment:
            return data
        for name in SECRET_FIELDS:
            if not data.get(name):  # empty box: keep what is stored
                data[name] = getattr(project, name) if project.pk else ""
        for name in ("url", "api_key", "sip_uri"):
            if name in self.fields and not data.get(name) and name not in self.errors:
                self.add_error(name, f"Give the project's {self.fields[name].label}.")
        if not data.get("api_secret"):
            self.add_error("api_secret", "Give the project's API secret.")
        credentials = ("url", "api_key", "api_secret")
        changed = project.pk is None or any(
            n in self.changed_data or (n in SECRET_FIELDS and self.cleaned_data.get(n))
            for n in credentials
        )
        if changed and not self.errors:
            trial = LiveKitProject(
                name=data.get("name") or project.name,
                url=data.get("url", ""),
                api_key=data.get("api_key", ""),
                api_secret=data.get("api_secret", ""),
            )
            try:
                check_credentials(trial)
            except ValidationError as exc:
                for field, messages in exc.message_dict.items():
                    self.add_error(field if field in self.fields else None, messages)
        return data


@admin.register(LiveKitProject)
class LiveKitProjectAdmin(admin.ModelAdmin):
    form = LiveKitProjectForm
    list_display = (
        "name",
        "region",
        "capacity_weight",
        "rate_limit",
        "accepting_new_clinics",
        "status",
        "clinic_count",
        "server_url",
        "key",
        "circuit",
    )
    list_filter = ("region", "status", "accepting_new_clinics")
    search_fields = ("name", "region")
    actions = ("clear_auth_circuit",)

    def has_run_provisioning_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("tenants.run_provisioning_actions")

    @admin.action(
        description="Credentials fixed: resume provisioning of these projects' clinics",
        permissions=["run_provisioning"],
    )
    def clear_auth_circuit(self, request: HttpRequest, queryset: Any) -> None:
        from telephony.provisioning.circuit import clear_circuit, resume_after_config_change

        n = 0
        for project in queryset:
            clear_circuit(project.name)
            n += resume_after_config_change(project.name)
        self.message_user(request, f"Provisioning resumed for {n} clinic(s).")

    @admin.display(description="credentials circuit")
    def circuit(self, project: LiveKitProject) -> str:
        from telephony.provisioning.circuit import auth_blocked

        return auth_blocked(project.name) or "closed (LiveKit accepts the key)"

    def get_queryset(self, request: HttpRequest) -> QuerySet[LiveKitProject]:
        live = ~Q(clinics__state="offboarded")
        return super().get_queryset(request).annotate(n_clinics=Count("clinics", filter=live))

    @admin.display(description="clinics", ordering="n_clinics")
    def clinic_count(self, project: LiveKitProject) -> int:
        return project.n_clinics  # type: ignore[attr-defined]

    @admin.display(description="server URL")
    def server_url(self, project: LiveKitProject) -> str:
        return project.effective_url + (" (LIVEKIT_URL)" if project.from_environment else "")

    @admin.display(description="requests/min")
    def rate_limit(self, project: LiveKitProject) -> str:
        if project.rate_limit_per_minute:
            return f"{project.rate_limit_per_minute:,}"
        return f"{project.effective_rate_limit_per_minute:,.0f} (LIVEKIT_RATE_LIMIT_PER_MINUTE)"

    @admin.display(description="API key")
    def key(self, project: LiveKitProject) -> str:
        return project.effective_api_key

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = [
            "name",
            "region",
            "capacity_weight",
            "rate_limit_per_minute",
            "accepting_new_clinics",
            "status",
            *ENVIRONMENT_FIELDS,
        ]
        if obj is not None and obj.from_environment:
            fields = [f for f in fields if f not in ENVIRONMENT_FIELDS] + ["environment"]
        if not self.has_change_permission(request, obj):
            fields = [f for f in fields if f not in SECRET_FIELDS]
        return fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        readonly = ["environment"]
        if obj is not None:
            readonly.append("name")  # rooms, logs and docs name it
        return readonly

    @admin.display(description="credentials")
    def environment(self, project: LiveKitProject) -> str:
        return (
            f"From the environment: LIVEKIT_URL ({project.effective_url}), LIVEKIT_API_KEY "
            f"({project.effective_api_key}), LIVEKIT_API_SECRET, LIVEKIT_SIP_URI "
            f"({project.effective_sip_uri}). Change them there and restart."
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and (obj.from_environment or obj.clinics.exists()):
            return False  # a project with clinics is emptied by moving them first
        return super().has_delete_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        rotated = change and any(form.data.get(n) for n in SECRET_FIELDS)
        super().save_model(request, obj, form, change)
        if rotated:
            record(
                "livekit_project.secret_changed",
                target=obj,
                actor=request.user,
                changes={"api_secret": ["(set)", "(changed)"]},
            )
