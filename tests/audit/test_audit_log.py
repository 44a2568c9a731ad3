"""The audit log: one test per kind of change (who, what, when, from where; secrets
absent), the clinic page, the CSV export and the API, retention, and that no interface
can change or delete an entry."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from audit.models import AuditEntry, AuditEntryError
from audit.tasks import purge_expired
from telephony import publishing, services
from telephony.agent_tokens import agent_token_create, agent_token_revoke
from telephony.models import Receptionist
from tenants import team
from tenants.models import ApiToken
from tests.api_helpers import api_as, clinic_url
from tests.console import staff_in
from tests.factories import UserFactory, add_member, make_clinic

pytestmark = pytest.mark.django_db

SIP_PASSWORD = "Sip-Secret-4-audit"


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    monkeypatch.setattr(publishing, "_publish", lambda cid, verify: None)


def entries(clinic, event=None):
    qs = AuditEntry.objects.filter(clinic=clinic).order_by("pk")
    return list(qs.filter(event=event) if event else qs)


def only(clinic, event):
    found = entries(clinic, event)
    assert len(found) == 1, (event, [e.event for e in entries(clinic)])
    return found[0]


def assert_recent(entry):
    assert timezone.now() - entry.timestamp < timedelta(minutes=1)


def everything_logged() -> str:
    return json.dumps(
        list(
            AuditEntry.objects.values(
                "changes", "changes_text", "object_repr", "additional_data", "serialized_data"
            )
        ),
        default=str,
    )


# --- one test per kind of change ------------------------------------------------------------


def test_clinic_details_changed_over_the_api_name_the_token_and_address(clinic, owner):
    client = api_as(owner)
    r = client.patch(
        clinic_url(clinic), {"name": "Brighter Smile"}, format="json", REMOTE_ADDR="203.0.113.7"
    )
    assert r.status_code == 200, r.content
    entry = only(clinic, "clinic.update")
    assert entry.actor == owner and entry.actor_email == owner.email
    assert entry.actor_kind == "api_token"
    token = ApiToken.objects.filter(user=owner).latest("created_at")
    assert entry.additional_data["via"] == f"test {token.prefix}…"  # name and prefix
    assert entry.remote_addr == "203.0.113.7"
    assert entry.changes["name"] == ["Bright Smile Dental", "Brighter Smile"]
    assert_recent(entry)


def test_the_address_comes_from_x_forwarded_for_only_behind_a_trusted_proxy(
    clinic, owner, settings
):
    client = api_as(owner)
    forged = {"REMOTE_ADDR": "198.51.100.1", "HTTP_X_FORWARDED_FOR": "10.9.9.9"}
    client.patch(clinic_url(clinic), {"name": "One"}, format="json", **forged)
    assert entries(clinic, "clinic.update")[-1].remote_addr == "198.51.100.1"
    settings.TRUSTED_PROXIES = ["198.51.100.0/24"]
    client.patch(clinic_url(clinic), {"name": "Two"}, format="json", **forged)
    assert entries(clinic, "clinic.update")[-1].remote_addr == "10.9.9.9"


def test_numbers_added_and_removed_in_the_web_pages(client, clinic, owner):
    client.force_login(owner)
    services.phone_number_add(clinic=clinic, number="+14155550101")  # outside a request
    r = api_as(owner).delete(clinic_url(clinic, "numbers/%2B14155550101/"))
    assert r.status_code == 204
    added = only(clinic, "number.create")
    assert added.actor is None and added.actor_kind == "system"
    assert added.changes["e164"][1] == "+14155550101"
    removed = only(clinic, "number.delete")
    assert removed.actor == owner and removed.object_repr.startswith("+14155550101")


def test_carrier_settings_record_that_the_password_changed_never_the_password(clinic, owner):
    client = api_as(owner)
    body = {
        "allowed_addresses": ["192.0.2.0/24"],
        "auth_username": "clinic-sip",
        "auth_password": SIP_PASSWORD,
    }
    r = client.put(clinic_url(clinic, "trunk-settings/"), body, format="json")
    assert r.status_code == 200, r.content
    changed = only(clinic, "carrier.password_changed")
    assert changed.actor == owner and changed.changes == {"auth_password": ["not set", "set"]}
    update = entries(clinic, "carrier.update") or entries(clinic, "carrier.create")
    assert any("auth_username" in e.changes for e in update)
    assert all("auth_password" not in e.changes for e in update)
    # Changing it again says so again; the value appears nowhere in the log.
    body["auth_password"] = SIP_PASSWORD + "-2"
    client.put(clinic_url(clinic, "trunk-settings/"), body, format="json")
    assert len(entries(clinic, "carrier.password_changed")) == 2
    assert SIP_PASSWORD not in everything_logged()
    csv = Client()
    csv.force_login(owner)
    export = b"".join(csv.get(f"/clinics/{clinic.slug}/audit.csv").streaming_content).decode()
    assert "Carrier password changed" in export and SIP_PASSWORD not in export


def test_receptionist_instructions_are_logged_with_a_diff(client, clinic, admin_member):
    client.force_login(admin_member)
    old = Receptionist.objects.get(clinic=clinic).instructions
    services.agent_config_update(clinic=clinic, instructions=old + "\nAlways mention parking.")
    entry = only(clinic, "receptionist.update")
    assert entry.changes["instructions"] == [old, old + "\nAlways mention parking."]
    page = client.get(f"/clinics/{clinic.slug}/audit/").content.decode()
    assert "+Always mention parking." in page  # the line diff, not two copies of the text


def test_team_invitation_role_change_and_removal(clinic, owner):
    invitation = team.invitation_create(
        clinic=clinic, actor=owner, email="new@bright.example", role="viewer"
    )
    sent = only(clinic, "invitation.create")
    assert sent.changes["email"][1] == "new@bright.example"
    assert "token_hash" not in sent.changes and invitation.token_hash not in everything_logged()
    member = add_member(clinic, "viewer", UserFactory(email="v@bright.example"))
    membership = member.memberships.get(clinic=clinic)
    team.member_change_role(membership=membership, actor=owner, role="admin")
    assert only(clinic, "member.update").changes["role"] == ["viewer", "admin"]
    team.member_remove(membership=member.memberships.get(clinic=clinic), actor=owner)
    assert only(clinic, "member.delete").object_repr
    team.invitation_revoke(invitation=invitation, actor=owner)
    assert "revoked_at" in only(clinic, "invitation.update").changes


@pytest.mark.parametrize(
    ("steps", "event", "state"),
    [
        ((), "clinic.go_live", ["draft", "live"]),
        (("suspend",), "clinic.suspend", ["live", "suspended"]),
        (("suspend", "resume"), "clinic.resume", ["suspended", "live"]),
        (("offboard",), "clinic.offboard", ["live", "offboarded"]),
    ],
)
def test_lifecycle_changes_name_who_and_the_states(clinic, owner, steps, event, state):
    services.phone_number_add(clinic=clinic, number="+14155550101")
    services.clinic_go_live(clinic=clinic, actor=owner)
    for step in steps:
        getattr(services, f"clinic_{step}")(clinic=clinic, actor=owner)
    entry = entries(clinic, event)[-1]
    assert entry.actor == owner
    assert entry.changes == {"state": state}
    assert_recent(entry)


def test_staff_actions_from_admin_are_logged_as_staff(client, clinic, owner):
    services.phone_number_add(clinic=clinic, number="+14155550101")
    services.clinic_go_live(clinic=clinic, actor=owner)
    staff = staff_in("operator", email="ops@switchboard.example")
    client.force_login(staff)
    r = client.post(f"/admin/tenants/clinic/{clinic.pk}/console/suspend/", {"post": "yes"})
    assert r.status_code == 302
    entry = only(clinic, "clinic.suspend")
    assert entry.actor == staff and entry.actor_kind == "staff"
    assert entry.remote_addr == "127.0.0.1"


def test_agent_tokens_created_and_revoked(db):
    staff = staff_in(None, email="root@switchboard.example")
    token, raw = agent_token_create(name="worker-1", created_by=staff)
    agent_token_revoke(token=token)
    made = AuditEntry.objects.get(event="agent_token.create")
    assert made.actor == staff and made.clinic is None and "worker-1" in made.object_repr
    assert AuditEntry.objects.filter(event="agent_token.revoke").count() == 1
    assert raw not in everything_logged()


def test_api_tokens_created_and_revoked_show_in_each_clinic_of_the_user(clinic, owner):
    second = make_clinic(owner, "Second Dental")
    r = Client().post(
        "/api/v1/auth/token",
        {"email": owner.email, "password": "correct-horse-battery-9", "name": "backup script"},
        content_type="application/json",
        REMOTE_ADDR="203.0.113.9",
    )
    assert r.status_code == 200, r.content
    key, token_id = r.json()["token"], r.json()["id"]
    prefix = ApiToken.objects.get(pk=token_id).prefix
    for c in (clinic, second):
        entry = only(c, "api_token.create")
        assert entry.actor == owner and entry.object_repr == f"backup script ({prefix}…)"
        assert entry.remote_addr == "203.0.113.9"
    r = api_as(owner).delete(f"/api/v1/tokens/{token_id}/")
    assert r.status_code == 204, r.content
    revoked = only(clinic, "api_token.revoke")
    assert revoked.actor == owner and revoked.object_repr == f"backup script ({prefix}…)"
    assert revoked.additional_data["via"].startswith("test ")  # the token that revoked it
    assert key not in everything_logged()


def test_retention_changes_are_logged(client, clinic, owner):
    client.force_login(owner)
    r = client.post(f"/clinics/{clinic.slug}/calls/", {"transcript_days": "30", "call_days": "90"})
    assert r.status_code == 302
    assert entries(clinic, "retention.create") or entries(clinic, "retention.update")


# --- reading the log ------------------------------------------------------------------------


def test_owners_and_admins_read_filter_and_export_viewers_do_not(
    client, clinic, owner, admin_member, viewer
):
    services.phone_number_add(clinic=clinic, number="+14155550101")
    api_as(owner).patch(clinic_url(clinic), {"name": "=HYPERLINK(1)"}, format="json")
    for user in (owner, admin_member):
        client.force_login(user)
        page = client.get(f"/clinics/{clinic.slug}/audit/")
        assert page.status_code == 200
        assert "Number added" in page.content.decode()
        only_numbers = client.get(f"/clinics/{clinic.slug}/audit/", {"kind": "number"})
        assert "Clinic details changed" not in only_numbers.content.decode()
        csv = client.get(f"/clinics/{clinic.slug}/audit.csv", {"actor": owner.email})
        text = b"".join(csv.streaming_content).decode()
        assert "Clinic details changed" in text and "Number added" not in text
        assert "'=HYPERLINK(1)" in text  # formulas neutralised
        api = api_as(user).get(clinic_url(clinic, "audit-log/"), {"kind": "clinic"})
        assert api.status_code == 200
        assert {e["event"] for e in api.json()["results"]} == {"clinic.update", "clinic.create"}
    client.force_login(viewer)
    assert client.get(f"/clinics/{clinic.slug}/audit/").status_code == 403
    assert client.get(f"/clinics/{clinic.slug}/audit.csv").status_code == 403
    assert api_as(viewer).get(clinic_url(clinic, "audit-log/")).status_code == 403


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"kind": "passwords"}, "kind"),
        ({"since": "yesterday"}, "since"),
        ({"until": "2026-13-01"}, "until"),
        ({"actor": "a\x00b"}, "actor"),
        ({"actor": "x" * 300}, "actor"),
        ({"before": "abc"}, "before"),
    ],
)
def test_bad_filters_get_400_naming_the_field(clinic, owner, params, field):
    r = api_as(owner).get(clinic_url(clinic, "audit-log/"), params)
    assert r.status_code == 400 and field in r.json(), r.content


def test_the_api_pages_with_before(clinic, owner, monkeypatch):
    from audit import api

    monkeypatch.setattr(api, "PAGE", 2)
    client = api_as(owner)
    for i in range(5):
        client.patch(clinic_url(clinic), {"name": f"Name {i}"}, format="json")
    seen, before = [], None
    while True:
        r = client.get(clinic_url(clinic, "audit-log/"), {"before": before or ""})
        seen += [e["id"] for e in r.json()["results"]]
        before = r.json()["next_before"]
        if before is None:
            break
    assert seen == sorted(seen, reverse=True)
    assert len(seen) == len(set(seen)) == len(entries(clinic))


# --- nobody changes or deletes an entry -----------------------------------------------------


def test_no_interface_changes_or_deletes_an_entry(client, clinic, owner):
    api_as(owner).patch(clinic_url(clinic), {"name": "Logged"}, format="json")
    entry = only(clinic, "clinic.update")
    url = clinic_url(clinic, "audit-log/")
    for method in ("put", "patch", "delete", "post"):
        r = getattr(api_as(owner), method)(url, {"event": "x"}, format="json")
        assert r.status_code == 405, method
    staff = staff_in(None, email="root@switchboard.example")  # a superuser, every permission
    client.force_login(staff)
    base = f"/admin/audit/auditentry/{entry.pk}/"
    assert client.get(base + "change/").status_code == 200  # read-only view
    assert client.post(base + "change/", {"event": "x"}).status_code == 403
    assert client.post(base + "delete/", {"post": "yes"}).status_code == 403
    assert client.get("/admin/audit/auditentry/add/").status_code == 403
    r = client.post(
        "/admin/audit/auditentry/",
        {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"},
    )
    assert r.status_code in (200, 302)
    entry.refresh_from_db()
    assert entry.event == "clinic.update"
    with pytest.raises(AuditEntryError):
        entry.save()
    with pytest.raises(AuditEntryError):
        entry.delete()
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_support_staff_read_every_clinic_in_admin(client, clinic, outsider):
    services.phone_number_add(clinic=clinic, number="+14155550101")
    client.force_login(staff_in("support", email="help@switchboard.example"))
    page = client.get("/admin/audit/auditentry/")
    assert page.status_code == 200
    assert "+14155550101" in page.content.decode()


def test_retention_purges_entries_older_than_the_setting(clinic, settings):
    settings.AUDIT_LOG_RETENTION_DAYS = 30
    services.phone_number_add(clinic=clinic, number="+14155550101")
    old, new = entries(clinic)[0], entries(clinic)[-1]
    AuditEntry.objects.filter(pk=old.pk).update(timestamp=timezone.now() - timedelta(days=31))
    assert purge_expired() == 1
    assert not AuditEntry.objects.filter(pk=old.pk).exists()
    assert AuditEntry.objects.filter(pk=new.pk).exists()
