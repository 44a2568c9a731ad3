"""Content-Security-Policy: the header on every page, and no inline script or style to need
an exception. The browser suite (tests/e2e) fails on any violation the page reports."""

from __future__ import annotations

import re
from collections import deque
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings
from django.test import Client

from telephony import services
from telephony.models import Call
from tests.console import staff_in
from tests.factories import make_clinic

pytestmark = pytest.mark.django_db
TEMPLATES = Path(django_settings.BASE_DIR) / "templates"
HREF = re.compile(r'href="(/[^"#]*)"')


def expected_policy() -> dict[str, list[str]]:
    return django_settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]


def policy_of(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"{response.request['PATH_INFO']}: no Content-Security-Policy header"
    out = {}
    for part in header.split(";"):
        name, *values = part.split()
        out[name] = values
    return out


def crawl(client: Client, start: list[str], stay_under: str, limit: int = 400) -> dict[str, int]:
    """GET every same-site page reachable by links from `start` (query strings dropped, sign
    out skipped; redirects followed); every HTML answer must carry the policy. Returns {path: status}."""
    seen: dict[str, int] = {}
    queue = deque(start)
    while queue and len(seen) < limit:
        path = queue.popleft()
        if path in seen:
            continue
        r = client.get(path)
        seen[path] = r.status_code
        if r.status_code in (301, 302) and r["Location"].startswith(stay_under):
            queue.append(urlsplit(r["Location"]).path)
            continue
        if not r.get("Content-Type", "").startswith("text/html"):
            continue
        assert policy_of(r) == expected_policy(), path
        if r.status_code != 200:
            continue
        for link in HREF.findall(r.content.decode()):
            link = urlsplit(link.replace("&amp;", "&")).path
            if (
                link.startswith(stay_under)
                and "logout" not in link
                and not link.startswith("/static/")
                and link not in seen
            ):
                queue.append(link)
    return seen


def test_the_policy_allows_nothing_inline_and_nothing_from_elsewhere():
    for directive, sources in expected_policy().items():
        for source in sources:
            assert source in {"'self'", "'none'", "data:"}, f"{directive} allows {source}"
    assert "'unsafe-inline'" not in str(expected_policy())
    assert "'unsafe-eval'" not in str(expected_policy())


@pytest.fixture
def live_clinic(owner, fake_gateway):
    clinic = make_clinic(owner, "Bright Smile Dental")
    services.phone_number_add(clinic=clinic, number="+14155550101")
    services.clinic_go_live(clinic=clinic, actor=owner)
    Call.objects.create(
        clinic=clinic,
        room_sid="RM_csp",
        room_name=f"{clinic.room_prefix}_9876_x",
        mapped_by="trunk",
        caller_last4="9876",
        status="completed",
    )
    return clinic


def test_every_clinic_page_carries_the_policy(client, owner, live_clinic):
    client.force_login(owner)
    seen = crawl(client, ["/", "/home/", f"/clinics/{live_clinic.slug}/"], "/")
    pages = [p for p, status in seen.items() if status == 200]
    # The crawl reached the pages a clinic owner uses (not just the start page).
    for must in ("/settings/", "/team/", "/calls/", "/calls/RM_csp/", "/test-call/"):
        assert any(must in p for p in pages), (must, sorted(seen.items()))


def test_the_public_pages_carry_the_policy(client):
    seen = crawl(client, ["/", "/login/", "/signup/", "/api/docs/"], "/")
    assert {"/", "/login/", "/signup/", "/api/docs/"} <= {p for p, s in seen.items() if s == 200}


def test_every_admin_page_carries_the_policy(client, owner, live_clinic):
    client.force_login(staff_in(None, email="ops@switchboard.example"))
    seen = crawl(client, ["/admin/", "/admin/ops/"], "/admin/")
    pages = [p for p, status in seen.items() if status == 200]
    assert f"/admin/tenants/clinic/{live_clinic.pk}/change/" in pages
    assert len(pages) > 20, sorted(pages)


def test_the_api_docs_script_is_a_file_not_inline(client):
    page = client.get("/api/docs/").content.decode()
    assert "<style" not in page
    assert re.search(r"<script>", page) is None
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()


def test_error_pages_and_api_answers_carry_the_policy(client, settings):
    settings.DEBUG = False  # Django's debug pages (DEBUG=true) are exempt by django-csp
    r = client.get("/no-such-page/")
    assert r.status_code == 404
    assert policy_of(r) == expected_policy()
    assert policy_of(client.get("/api/v1/clinics/")) == expected_policy()


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "inline <script> (use a static file)"),
    (re.compile(r"<style\b", re.I), "<style> block (use a static stylesheet)"),
    (re.compile(r"\sstyle=", re.I), "style= attribute (use a class)"),
    (re.compile(r"\son[a-z]+=", re.I), "on...= handler (use addEventListener)"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
]


@pytest.mark.parametrize("template", sorted(TEMPLATES.rglob("*.html")), ids=str)
def test_no_template_has_inline_script_or_style(template):
    text = template.read_text()
    found = [why for pattern, why in INLINE if pattern.search(text)]
    assert found == [], f"{template.relative_to(TEMPLATES)}: {found}"
