"""Staff admin: changelist cost, write-only password, actions through the services."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from telephony import services
from telephony.models import Provisioning, ProvisioningEvent, TrunkSettings
from tests.factories import UserFactory, make_clinic

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):
    user = UserFactory(email="ops@switchboard.example", is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


_numbers = iter(range(10_000))


def make_live(n: int) -> list:
    owner = UserFactory()
    clinics = []
    for i in range(n):
        c = make_clinic(owner, f"Clinic {i}")
        services.phone_number_add(clinic=c, number=f"+1415555{next(_numbers):04d}")
        clinics.append(c)
    return clinics


def changelist_queries(client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/admin/tenants/clinic/").status_code == 200
    return len(ctx.captured_queries)


def test_the_clinic_changelist_costs_the_same_for_3_and_30_clinics(client, staff):
    make_live(3)
    few = changelist_queries(client)
    make_live(27)
    assert changelist_queries(client) == few


def test_search_finds_clinics_by_number_and_trunk_id(client, staff):
    a, b = make_live(2)
    Provisioning.objects.filter(clinic=b).update(trunk_id="ST_searchme12345")
    page = client.get("/admin/tenants/clinic/", {"q": "ST_searchme12345"}).content.decode()
    assert b.slug in page and a.slug not in page
    number = a.phone_numbers.get().e164
    page = client.get("/admin/tenants/clinic/", {"q": number}).content.decode()
    assert a.slug in page and b.slug not in page


def test_the_sip_password_is_never_rendered_in_admin(client, staff):
    (clinic,) = make_live(1)
    services.trunk_settings_update(
        clinic=clinic, auth_username="u", auth_password="adm1n-secret-pw"
    )
    page = client.get(f"/admin/tenants/clinic/{clinic.pk}/change/").content.decode()
    assert "adm1n-secret-pw" not in page
    assert TrunkSettings.objects.get(clinic=clinic).auth_password == "adm1n-secret-pw"


def test_actions_go_through_services_and_record_the_staff_user(client, staff, monkeypatch):
    monkeypatch.setattr(services, "_publish", lambda cid, verify: None)
    clinics = make_live(2)
    for c in clinics:
        services.clinic_go_live(clinic=c, actor=c.memberships.first().user)
    ids = [str(c.pk) for c in clinics]

    r = client.post(
        "/admin/tenants/clinic/", {"action": "reprovision_now", "_selected_action": ids}
    )
    assert r.status_code == 302
    assert ProvisioningEvent.objects.filter(actor=staff, action="requested").count() == 2

    Provisioning.objects.filter(clinic=clinics[0]).update(state="failed")
    client.post("/admin/tenants/clinic/", {"action": "retry_failed", "_selected_action": ids})
    assert ProvisioningEvent.objects.filter(actor=staff, action="retry_requested").count() == 1

    client.post("/admin/tenants/clinic/", {"action": "offboard", "_selected_action": ids[:1]})
    clinics[0].refresh_from_db()
    assert clinics[0].state == "offboarded"
    assert Provisioning.objects.get(clinic=clinics[0]).state == "deprovisioning"


def test_non_staff_cannot_open_admin(client):
    client.force_login(UserFactory())
    assert client.get("/admin/tenants/clinic/").status_code == 302


class _FormFields(__import__("html.parser").parser.HTMLParser):
    """The fields of the admin change form as a browser would submit them."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, str] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("submit", "button", "file"):
            if a.get("type") in ("checkbox", "radio"):
                if "checked" in a:
                    self.data[name] = a.get("value", "on")
            else:
                self.data[name] = a.get("value", "")
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and "selected" in a:
            self.data[self._select] = a.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.data[name] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        if tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.data[self._textarea] += data


def change_form(client, clinic) -> dict[str, str]:
    page = client.get(f"/admin/tenants/clinic/{clinic.pk}/change/").content.decode()
    parser = _FormFields()
    parser.feed(page)
    return parser.data


def test_editing_agent_and_carrier_settings_in_admin_goes_through_the_services(
    client, staff, monkeypatch
):
    monkeypatch.setattr(services, "_publish", lambda cid, verify: None)
    (clinic,) = make_live(1)
    services.trunk_settings_update(clinic=clinic, auth_username="u", auth_password="keep-me-secret")
    services.clinic_go_live(clinic=clinic, actor=clinic.memberships.first().user)
    generation = Provisioning.objects.get(clinic=clinic).generation

    data = change_form(client, clinic)
    data["agent_config-0-greeting"] = "Hello from the admin"
    data["trunk_settings-0-krisp_enabled"] = ""
    data.pop("trunk_settings-0-krisp_enabled")
    r = client.post(f"/admin/tenants/clinic/{clinic.pk}/change/", data)

    assert r.status_code == 302, r.content.decode()[:2000]
    from telephony.models import AgentConfig

    config = AgentConfig.objects.get(clinic=clinic)
    assert (config.greeting, config.version) == ("Hello from the admin", 2)
    ts = TrunkSettings.objects.get(clinic=clinic)
    assert ts.krisp_enabled is False and ts.auth_password == "keep-me-secret"
    assert Provisioning.objects.get(clinic=clinic).generation == generation + 2
