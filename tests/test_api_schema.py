"""The OpenAPI schema is complete and valid; Swagger UI is served without any CDN."""

from __future__ import annotations

import re
from io import StringIO

import pytest
import yaml
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.test import Client

pytestmark = pytest.mark.django_db

ENDPOINTS = {
    "/api/v1/signup": {"post"},
    "/api/v1/auth/token": {"post"},
    "/api/v1/clinics/": {"get", "post"},
    "/api/v1/clinics/{slug}/": {"get", "patch"},
    "/api/v1/clinics/{slug}/numbers/": {"get", "post"},
    "/api/v1/clinics/{slug}/numbers/{e164}/": {"patch", "delete"},
    "/api/v1/clinics/{slug}/receptionists/": {"get", "post"},
    "/api/v1/clinics/{slug}/receptionists/{receptionist_id}/": {"get", "patch", "delete"},
    "/api/v1/clinics/{slug}/trunk-settings/": {"get", "put"},
    "/api/v1/clinics/{slug}/agent/": {"get", "put"},
    "/api/v1/clinics/{slug}/go-live/": {"post"},
    "/api/v1/clinics/{slug}/offboard/": {"post"},
    "/api/v1/clinics/{slug}/retry/": {"post"},
    "/api/v1/clinics/{slug}/provisioning/": {"get"},
    "/api/v1/clinics/{slug}/move/": {"get"},
    "/api/v1/clinics/{slug}/livekit-project/": {"get", "put", "delete"},
    "/api/v1/clinics/{slug}/move/carrier-confirmed/": {"post"},
    "/api/v1/clinics/{slug}/members/": {"get", "post"},
    "/api/v1/clinics/{slug}/members/{user_id}/": {"patch", "delete"},
    "/api/v1/clinics/{slug}/invitations/": {"get", "post"},
    "/api/v1/clinics/{slug}/invitations/{invitation_id}/": {"delete"},
    "/api/v1/invitations/accept": {"post"},
    "/api/v1/clinics/{slug}/hours/": {"get", "put"},
    "/api/v1/clinics/{slug}/clinic-info/": {"get", "patch"},
    "/api/v1/clinics/{slug}/receptionists/{receptionist_id}/after-hours/": {"get", "patch"},
    "/api/v1/clinics/{slug}/messages/": {"get"},
    "/api/v1/clinics/{slug}/messages/{message_id}/": {"get", "patch"},
    "/api/v1/clinics/{slug}/messages/email/": {"get", "patch"},
    "/api/v1/clinics/{slug}/locations/": {"get", "post"},
    "/api/v1/clinics/{slug}/locations/{location_id}/": {"get", "patch", "delete"},
}


def _schema() -> dict:
    out = StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    return yaml.safe_load(out.getvalue())


def test_schema_validates_without_warnings_and_lists_every_endpoint():
    schema = _schema()
    ours = {
        p: set(ops) & {"get", "post", "put", "patch", "delete"}
        for p, ops in schema["paths"].items()
        if p.startswith("/api/v1/")
    }
    assert {p: ops for p, ops in ours.items() if p in ENDPOINTS} == ENDPOINTS


def test_the_password_is_write_only_in_the_schema():
    components = _schema()["components"]["schemas"]
    assert "auth_password" in components["TrunkSettingsInputRequest"]["properties"]
    assert "auth_password" not in components["TrunkSettingsOutput"]["properties"]
    assert "auth_password_set" in components["TrunkSettingsOutput"]["properties"]


def test_every_write_documents_its_errors():
    schema = _schema()
    for path, ops in ENDPOINTS.items():
        for op in ops:
            responses = schema["paths"][path][op]["responses"]
            if path.startswith("/api/v1/clinics/{slug}/"):
                assert {"401", "404"} <= set(responses), (path, op)
                if op != "get":
                    assert {"400", "403"} <= set(responses), (path, op)


def test_every_body_declares_the_413_the_size_limit_answers(client: Client, settings):
    """A body over DATA_UPLOAD_MAX_MEMORY_SIZE is refused before any view: every operation
    that takes a body says so, and the answer is the JSON the schema declares."""
    paths = _schema()["paths"]
    with_body = [
        (path, method)
        for path, ops in paths.items()
        for method, op in ops.items()
        if isinstance(op, dict) and "requestBody" in op
    ]
    assert ("/api/v1/agent/calls/{room_name}/outcome", "post") in with_body
    for path, method in with_body:
        assert "413" in paths[path][method]["responses"], (path, method)
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    r = client.post(
        "/api/v1/agent/calls/room_1/outcome", "x" * 2048, content_type="application/json"
    )
    assert r.status_code == 413
    assert "larger than 1 KiB" in r.json()["detail"]


def test_schema_endpoint_serves_it(client: Client):
    r = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert r.status_code == 200
    assert "/api/v1/clinics/{slug}/go-live/" in r.json()["paths"]


def test_docs_render_with_assets_served_by_the_app(client: Client):
    r = client.get("/api/docs/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "swagger-ui" in html
    assert not re.findall(r"""(?:src|href)=["']?(?:https?:)?//""", html), "external asset"
    assert "cdn" not in html.lower() and "unpkg" not in html.lower()
    assets = re.findall(r"""(?:src|href)=["']([^"']+\.(?:js|css|png))""", html)
    assert assets
    for asset in assets:
        # pytest-django runs with DEBUG off, so WhiteNoise serves only collected files here;
        # the finders are what collectstatic (production) and runserver (development) use.
        assert asset.startswith(
            settings.STATIC_URL
            if settings.STATIC_URL.startswith("/")
            else "/" + settings.STATIC_URL
        ), asset
        assert finders.find(asset.split("/static/", 1)[1].split("?")[0]), asset


# --- words for API users (issue 20) ---------------------------------------------------------

INTERNAL_WORDS = ("ClinicPermission", "request transaction", "A view under", "docstring")


def _operations(schema: dict) -> list[tuple[str, str, dict]]:
    return [
        (path, method, op)
        for path, ops in schema["paths"].items()
        for method, op in ops.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def test_every_operation_has_a_summary_a_known_tag_and_a_description_for_users():
    from config.api_docs import TAG_NAMES

    schema = _schema()
    operations = _operations(schema)
    assert len(operations) >= 28
    for path, method, op in operations:
        where = f"{method.upper()} {path} ({op['operationId']})"
        assert op.get("summary"), f"{where} has no summary"
        assert len(op["summary"]) <= 60, where
        assert len(op.get("tags", [])) == 1 and op["tags"][0] in TAG_NAMES, (where, op.get("tags"))
        assert op.get("description"), f"{where} has no description"
        assert not [w for w in INTERNAL_WORDS if w in op["description"]], where
    used = {op["tags"][0] for _, _, op in operations}
    assert used == set(TAG_NAMES)  # every declared group has operations
    assert [t["name"] for t in schema["tags"]] == [
        "clinics",
        "numbers",
        "receptionist",
        "provisioning",
        "calls",
        "messages",
        "team",
        "audit",
        "webhooks",
        "agent",
    ]
    summaries = [op["summary"] for _, _, op in operations]
    assert len(summaries) == len(set(summaries))


def test_the_auth_scheme_is_explained_with_an_example():
    schema = _schema()
    assert "Authorization: Token sbu_8Jq0c3vV2xQ..." in schema["info"]["description"]
    token = schema["components"]["securitySchemes"]["tokenAuth"]
    assert token["name"] == "Authorization" and "Token <token>" in token["description"]
    agent = schema["paths"]["/api/v1/agent/config"]["get"]
    assert agent["security"] == [{"agentToken": []}]
    assert "Bearer" in agent["description"]
