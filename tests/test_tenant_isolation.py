"""The cross-tenant matrix: every URL pattern from the resolver, every method.

As the owner of clinic A against clinic B's objects (path, query and body), as a viewer of
B against every mutating endpoint, and anonymously against everything. A new URL pattern
without a case in CASES fails the suite. Figures: leaks 0, unauthorized changes 0, URLs
without a case 0.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from audit.models import AuditEntry
from frontdesk import services as frontdesk_services
from frontdesk.locations import location_create, receptionist_location_set
from frontdesk.models import AfterHours, FrontDesk, Location, Message
from telephony import services
from telephony.models import (
    Call,
    CallLogPolicy,
    CallOutcome,
    CarrierAccount,
    NumberPurchase,
    NumberRelease,
    PhoneNumber,
    Provisioning,
    Receptionist,
    TrunkSettings,
)
from telephony.receptionists import receptionist_create
from tenants import team
from tenants.models import Clinic, Invitation, Membership
from tests.factories import UserFactory, add_member, make_clinic
from webhooks import services as webhook_services
from webhooks.models import WebhookDelivery, WebhookEndpoint

# transaction=True: some views (test call) run outside the request transaction on purpose, and
# DRF marks the enclosing transaction for rollback on an error response; in a test wrapped
# in one transaction that would poison the next request.
pytestmark = pytest.mark.django_db(transaction=True)

METHODS = ("get", "post", "put", "patch", "delete")
VICTIM_ACCOUNT_SID = "AC" + "7" * 32

# How each URL is reached. "public": anyone; "user": any signed-in user, no clinic in the URL;
# "clinic": the URL names a clinic by slug and must resolve it through tenants.access.
PUBLIC, USER, CLINIC = "public", "user", "clinic"
# Machine callers with credentials of their own: the agent (service token) and LiveKit
# (signed webhooks). A user's session or API token opens neither.
AGENT, WEBHOOK = "agent", "webhook"
CASES: dict[str, str] = {
    "healthz": PUBLIC,
    "readyz": PUBLIC,
    "api-signup": PUBLIC,
    "api-token": PUBLIC,
    "schema": PUBLIC,
    "api-docs": PUBLIC,
    "tenants:landing": PUBLIC,
    "tenants:signup": PUBLIC,
    "tenants:login": PUBLIC,
    "tenants:verify_email": PUBLIC,
    "tenants:logout": PUBLIC,  # anyone may sign out; it changes nothing but the session
    "tenants:password_reset": PUBLIC,
    "tenants:password_reset_done": PUBLIC,
    "tenants:password_reset_confirm": PUBLIC,  # the emailed link: the token is the credential
    "tenants:password_reset_complete": PUBLIC,
    "tenants:verify_email_resend": USER,
    "tenants:home": USER,
    "api-clinics": USER,
    "api-clinic": CLINIC,
    "api-numbers": CLINIC,
    "api-number": CLINIC,
    "api-trunk-settings": CLINIC,
    "api-carrier": CLINIC,
    "api-carrier-numbers": CLINIC,
    "api-carrier-available-numbers": CLINIC,
    "api-carrier-purchases": CLINIC,
    "api-carrier-purchase": CLINIC,
    "api-carrier-releases": CLINIC,
    "api-carrier-release": CLINIC,
    "api-carrier-release-retry": CLINIC,
    "tenants:carrier_release": CLINIC,
    "tenants:carrier_release_retry": CLINIC,
    "tenants:carrier_buy": CLINIC,
    "api-carrier-confirmation": CLINIC,
    "api-agent": CLINIC,
    "api-receptionists": CLINIC,
    "api-receptionist": CLINIC,
    "tenants:receptionists": CLINIC,
    "tenants:receptionist_add": CLINIC,
    "tenants:receptionist_edit": CLINIC,
    "tenants:receptionist_delete": CLINIC,
    "tenants:number_assign": CLINIC,
    "api-go-live": CLINIC,
    "api-offboard": CLINIC,
    "api-retry": CLINIC,
    "api-provisioning": CLINIC,
    "api-calls": CLINIC,
    "api-call": CLINIC,
    "tenants:call_log": CLINIC,
    "tenants:call_log_csv": CLINIC,
    "tenants:call_detail": CLINIC,
    "api-agent-call-outcome": AGENT,
    "api-test-call": CLINIC,
    "tenants:test_call": CLINIC,
    "api-agent-config": AGENT,
    "livekit-webhook": WEBHOOK,
    "tenants:dashboard": CLINIC,
    "tenants:status": CLINIC,
    "tenants:retry": CLINIC,
    "tenants:move_confirm": CLINIC,
    "api-move": CLINIC,
    "api-own-project": CLINIC,
    "tenants:own_project": CLINIC,
    "api-move-carrier-confirmed": CLINIC,
    "tenants:offboard": CLINIC,
    "tenants:go_live": CLINIC,
    "tenants:setup_start": CLINIC,
    "tenants:number_remove": CLINIC,
    "tenants:setup": CLINIC,
    "tenants:settings_start": CLINIC,
    "tenants:settings": CLINIC,
    # Teams
    "tenants:invitation": PUBLIC,  # the emailed link: the token is the credential
    "tenants:password_change": USER,
    "api-invitation-accept": USER,
    "tenants:team": CLINIC,
    "tenants:team_invite": CLINIC,
    "tenants:team_member_role": CLINIC,
    "tenants:team_member_remove": CLINIC,
    "tenants:team_invitation_revoke": CLINIC,
    "api-members": CLINIC,
    "api-member": CLINIC,
    "api-invitations": CLINIC,
    "api-invitation": CLINIC,
    # Audit log (owners and admins)
    "audit:log": CLINIC,
    "audit:log_csv": CLINIC,
    "api-audit-log": CLINIC,
    "api-invitation-resend": CLINIC,
    "tenants:team_invitation_resend": CLINIC,
    # A person's own API tokens (tests/tenants/test_api_tokens.py: another person's is 404)
    "api-tokens": USER,
    "api-token-detail": USER,
    "tenants:api_tokens": USER,
    "tenants:api_token_revoke": USER,
    # Two-factor sign-in
    "twofactor:login_code": PUBLIC,  # the second step: needs a pending password step
    "twofactor:account": USER,
    "twofactor:clinic_requirement": CLINIC,
    # Webhooks to clinics
    "api-webhook-endpoints": CLINIC,
    "api-webhook-endpoint": CLINIC,
    "api-webhook-rotate": CLINIC,
    "api-webhook-test": CLINIC,
    "api-webhook-deliveries": CLINIC,
    "api-webhook-resend": CLINIC,
    "webhooks:list": CLINIC,
    "webhooks:detail": CLINIC,
    "webhooks:rotate": CLINIC,
    "webhooks:test": CLINIC,
    "webhooks:delete": CLINIC,
    "webhooks:resend": CLINIC,
    # Opening hours, what the receptionist knows, after-hours behaviour (issue 15)
    "api-hours": CLINIC,
    "api-clinic-info": CLINIC,
    "api-after-hours": CLINIC,
    "frontdesk:hours": CLINIC,
    "frontdesk:clinic_info": CLINIC,
    "frontdesk:after_hours": CLINIC,
    # Messages the receptionist took
    "api-agent-messages": AGENT,
    "api-messages": CLINIC,
    "api-message": CLINIC,
    "api-message-email": CLINIC,
    # Locations
    "api-locations": CLINIC,
    "api-location": CLINIC,
    "frontdesk:locations": CLINIC,
    "frontdesk:location": CLINIC,
    "frontdesk:messages": CLINIC,
    "frontdesk:message": CLINIC,
}


def patterns(
    resolvers: list[Any] | None = None, prefix: str = "", ns: str = ""
) -> list[tuple[str, str]]:
    out = []
    for p in resolvers if resolvers is not None else get_resolver().url_patterns:
        if isinstance(p, URLResolver):
            out += patterns(p.url_patterns, prefix + str(p.pattern), p.namespace or ns)
        elif isinstance(p, URLPattern):
            name = f"{ns}:{p.name}" if ns and p.name else (p.name or "")
            out.append((prefix + str(p.pattern), name))
    return out


def app_patterns() -> list[tuple[str, str]]:
    return [(route, name) for route, name in patterns() if not route.startswith("admin/")]


def admin_patterns() -> list[tuple[str, str]]:
    return [(route, name) for route, name in patterns() if route.startswith("admin/")]


def test_every_url_has_a_case():
    missing = sorted(
        f"{name or '<unnamed>'} ({route})" for route, name in app_patterns() if name not in CASES
    )
    assert missing == [], f"URLs without an isolation case: {missing}"


@pytest.fixture
def world(owner, clinic):
    """Clinic A (the attacker's own) and clinic B (the target), B fully set up and live."""
    attacker = owner
    b_owner = UserFactory(email="owner@victim.example")
    victim = make_clinic(b_owner, "Victim Family Dentistry")
    victim_line = receptionist_create(clinic=victim, name="Victim Spanish line")
    services.phone_number_add(clinic=victim, number="+14155550177", receptionist=victim_line.pk)
    services.trunk_settings_update(
        clinic=victim,
        allowed_addresses=["198.51.100.7"],
        auth_username="victimuser",
        auth_password="victim-secret-pw",
    )
    services.clinic_go_live(clinic=victim, actor=b_owner)
    CarrierAccount.objects.create(
        clinic=victim,
        provider="twilio",
        account_sid=VICTIM_ACCOUNT_SID,
        secret="victim-carrier-tok",
    )
    Provisioning.objects.filter(clinic=victim).update(
        trunk_id="ST_victimTrunk01", dispatch_rule_id="SDR_victimRule01"
    )
    victim_purchase = NumberPurchase.objects.create(
        clinic=victim, provider="twilio", e164="+14155550166", idempotency_key="victim-buy",
        status_message="victim purchase", carrier_id="PNvictimPurchase01",
    )  # fmt: skip
    NumberRelease.objects.create(
        clinic=victim, purchase=victim_purchase, provider="twilio", e164="+14155550166",
        state="failed", status_message="victim release",
    )  # fmt: skip
    call = Call.objects.create(
        clinic=victim,
        room_sid="RM_victimCall01",
        room_name=f"{victim.room_prefix}_***0199_victimRoom01",
        caller_last4="0199",
        caller_number="+14155550199",
        mapped_by="trunk",
    )
    CallOutcome.objects.create(
        clinic=victim,
        room_name=call.room_name,
        consent="granted",
        outcome="answered",
        summary="victim summary",
        transcript="victim transcript",
        body_hash="x",
    )
    b_viewer = add_member(
        victim, Membership.Role.VIEWER, UserFactory(email="viewer@victim.example")
    )
    team.invitation_create(
        clinic=victim, actor=b_owner, email="invitee@victim.example", role="admin"
    )
    endpoint, _ = webhook_services.endpoint_create(
        clinic=victim, url="https://victim-hooks.example.com/in", chosen=["number.added"]
    )
    webhook_services.endpoint_send_test(endpoint=endpoint)
    WebhookDelivery.objects.filter(endpoint=endpoint).update(status="failed")
    frontdesk_services.hours_replace(
        clinic=victim,
        timezone="Europe/Madrid",
        weekly=[{"day": 0, "opens": "08:00", "closes": "14:00"}],
        closures=[{"date": "2026-12-24", "reason": "Victim staff party"}],
    )
    frontdesk_services.knowledge_update(
        clinic=victim, address="1 Victim Lane", insurers=["Victim Mutual"]
    )
    frontdesk_services.after_hours_update(
        receptionist=victim_line, greeting="Victim is closed", instructions="victim night"
    )
    victim_location = location_create(
        clinic=victim,
        name="Victim Uptown",
        address="2 Victim Road",
        hours={"weekly": [{"day": 1, "opens": "10:00", "closes": "12:00"}], "closures": []},
    )
    receptionist_location_set(receptionist=victim_line, location=victim_location)
    Message.objects.create(
        clinic=victim,
        receptionist=victim_line,
        room_name=call.room_name,
        caller_number="+14155550199",
        caller_last4="0199",
        caller_name="Victim Caller Name",
        callback_number="+14155550177",
        reason="victim message reason",
        idempotency_key="victim-key",
        body_hash="x",
    )
    return {
        "attacker": attacker,
        "a": clinic,
        "victim": victim,
        "b_owner": b_owner,
        "b_viewer": b_viewer,
    }


def fill(route: str, victim: Clinic) -> str:
    """A concrete URL for the route, aimed at the victim's objects."""
    url = "/" + route
    owner_id = (
        Membership.objects.filter(clinic=victim, role=Membership.Role.OWNER)
        .order_by("pk")
        .values_list("user_id", flat=True)
        .first()
    )
    invitation = Invitation.objects.for_clinic(victim).order_by("created_at").first()
    endpoint = WebhookEndpoint.objects.filter(clinic=victim).first()
    line = Receptionist.objects.for_clinic(victim).order_by("id").last()
    message = Message.objects.filter(clinic=victim).first()
    location = Location.objects.filter(clinic=victim).first()
    delivery = WebhookDelivery.objects.filter(endpoint=endpoint).first()
    purchase = NumberPurchase.objects.filter(clinic=victim).first()
    release = NumberRelease.objects.filter(clinic=victim).first()
    for key, value in {
        "<uuid:purchase_id>": str(purchase.pk if purchase else uuid.UUID(int=0)),
        "<uuid:release_id>": str(release.pk if release else uuid.UUID(int=0)),
        "<str:endpoint_id>": str(endpoint.pk if endpoint else uuid.UUID(int=0)),
        "<int:delivery_id>": str(delivery.pk if delivery else 0),
        "<slug:slug>": victim.slug,
        "<int:receptionist_id>": str(line.pk if line else 0),
        "<int:message_id>": str(message.pk if message else 0),
        "<int:location_id>": str(location.pk if location else 0),
        "<str:e164>": "+14155550177",
        "<slug:step>": "numbers",
        "<slug:section>": "numbers",
        "<str:token>": "not-a-token",
        "<int:user_id>": str(owner_id),  # the victim's owner: removing, demoting, leaving
        "<uuid:invitation_id>": str(invitation.pk if invitation else uuid.UUID(int=0)),
        "<str:room_sid>": "RM_victimCall01",
        "<int:token_id>": "1",
        "<uidb64>": "MQ",
        "<token>": "set-password",
        "<str:room_name>": f"{victim.room_prefix}_+14155550199_victimRoom01",
    }.items():
        url = url.replace(key, value)
    assert "<" not in url, f"no value for a parameter in {route}"
    return url


def fingerprint(victim: Clinic) -> str:
    """A checksum of everything the victim owns."""
    rows = [
        list(Clinic.objects.filter(pk=victim.pk).values()),
        list(PhoneNumber.objects.filter(clinic=victim).values("e164", "label", "receptionist")),
        list(
            TrunkSettings.objects.filter(clinic=victim).values(
                "allowed_addresses", "auth_username", "krisp_enabled"
            )
        ),
        list(Receptionist.objects.filter(clinic=victim).values()),
        list(
            CarrierAccount.objects.filter(clinic=victim).values("provider", "account_sid", "state")
        ),
        list(
            NumberPurchase.objects.filter(clinic=victim).values("e164", "state", "status_message")
        ),
        list(NumberRelease.objects.filter(clinic=victim).values("e164", "state", "status_message")),
        list(Provisioning.objects.filter(clinic=victim).values("generation", "state", "trunk_id")),
        list(Membership.objects.filter(clinic=victim).values("user_id", "role")),
        list(Call.objects.filter(clinic=victim).values()),
        list(CallOutcome.objects.filter(clinic=victim).values()),
        list(CallLogPolicy.objects.filter(clinic=victim).values()),
        list(FrontDesk.objects.filter(clinic=victim).values()),
        list(AfterHours.objects.filter(clinic=victim).values()),
        list(Location.objects.filter(clinic=victim).values()),
        list(Message.objects.filter(clinic=victim).values()),
        list(WebhookEndpoint.objects.filter(clinic=victim).values()),
        list(
            WebhookDelivery.objects.filter(endpoint__clinic=victim).values(
                "status", "attempts", "next_attempt_at"
            )
        ),
        list(
            Invitation.objects.filter(clinic=victim).values(
                "email", "role", "token_hash", "accepted_at", "revoked_at"
            )
        ),
        # The audit log: nobody else's request may add, change or remove a victim's entry.
        list(AuditEntry.objects.filter(clinic=victim).values("id", "event", "changes")),
    ]
    return hashlib.sha256(json.dumps(rows, default=str, sort_keys=True).encode()).hexdigest()


SECRETS_OF_B = (
    "Victim Family",
    VICTIM_ACCOUNT_SID,
    "victim-carrier-tok",
    "PNvictimPurchase01",
    "+14155550177",
    "victimuser",
    "victim-secret-pw",
    "ST_victimTrunk01",
    "198.51.100.7",
    "viewer@victim.example",
    "invitee@victim.example",
    "+14155550199",
    "victim summary",
    "victim transcript",
    "victim-hooks.example.com",
    "Victim staff party",
    "1 Victim Lane",
    "Victim Mutual",
    "Victim is closed",
    "victim night",
    "Victim Caller Name",
    "victim message reason",
    "Victim Uptown",
    "2 Victim Road",
)


def body_for(victim: Clinic) -> dict[str, Any]:
    """A body naming the victim everywhere a field could (clinic ids in the body are ignored)."""
    return {
        "clinic": str(victim.pk),
        "clinic_id": str(victim.pk),
        "slug": victim.slug,
        "e164": "+14155550177",
        "name": "hijacked",
        "greeting": "hijacked",
        "allowed_addresses": ["203.0.113.9"],
        "timezone": "UTC",
        "weekly": [],
        "closures": [],
        "address": "hijacked",
        "action": "message",
        "handled": True,
        "location": 1,
        "email_owners_and_admins": True,
    }


def assert_no_leak(response: Any) -> None:
    text = response.content.decode(errors="replace")
    leaked = [s for s in SECRETS_OF_B if s in text]
    assert leaked == [], f"{response.request['PATH_INFO']} leaked {leaked}"


@pytest.mark.parametrize("method", METHODS)
def test_a_member_of_another_clinic_gets_404_and_changes_nothing(world, method):
    victim = world["victim"]
    api = APIClient()
    api.force_login(world["attacker"])
    before = fingerprint(victim)
    checked = 0
    for route, name in app_patterns():
        if CASES.get(name) != CLINIC:
            continue
        url = fill(route, victim)
        r = getattr(api, method)(url, body_for(victim), format="json")
        assert r.status_code in (404, 405), f"{method.upper()} {url} -> {r.status_code}"
        assert_no_leak(r)
        checked += 1
    assert checked >= 15
    assert fingerprint(victim) == before


@pytest.mark.parametrize("method", ("post", "put", "patch", "delete"))
def test_a_viewer_cannot_change_anything(world, method):
    victim = world["victim"]
    api = APIClient()
    api.force_login(world["b_viewer"])
    before = fingerprint(victim)
    for route, name in app_patterns():
        if CASES.get(name) != CLINIC:
            continue
        url = fill(route, victim)
        r = getattr(api, method)(url, body_for(victim), format="json")
        assert r.status_code in (403, 405), f"{method.upper()} {url} -> {r.status_code}"
    assert fingerprint(victim) == before


def test_cross_tenant_ids_in_query_and_body_are_ignored(world):
    api = APIClient()
    api.force_login(world["attacker"])
    a = world["a"]
    victim = world["victim"]
    before = fingerprint(victim)
    r = api.get(f"/api/v1/clinics/?clinic={victim.pk}&slug={victim.slug}")
    assert [c["slug"] for c in r.json()] == [a.slug]
    r = api.post(
        f"/api/v1/clinics/{a.slug}/numbers/",
        {"e164": "+14155550188", "clinic": str(victim.pk)},
        format="json",
    )
    assert r.status_code == 400 and "clinic" in r.json()  # unknown field, refused by name
    r = api.get(f"/clinics/{a.slug}/status.json?clinic={victim.pk}")
    assert r.status_code == 200
    assert_no_leak(r)
    assert fingerprint(victim) == before


@pytest.mark.parametrize("method", METHODS)
def test_anonymous_gets_nothing(world, method):
    victim = world["victim"]
    before = fingerprint(victim)
    for route, name in app_patterns():
        kind = CASES.get(name)
        if kind == PUBLIC:
            continue
        url = fill(route, victim)
        r = getattr(APIClient(), method)(url, body_for(victim), format="json")
        ok = r.status_code in (401, 403, 404, 405) or (
            r.status_code == 302 and "/login" in r["Location"]
        )
        assert ok, f"{method.upper()} {url} -> {r.status_code}"
        assert_no_leak(r)
    assert fingerprint(victim) == before


def test_admin_is_closed_to_clinic_users(world):
    victim = world["victim"]
    client = Client()
    client.force_login(world["attacker"])
    for route, name in admin_patterns():
        url = "/" + route
        for key, value in {
            "<path:object_id>": str(victim.pk),
            "<path:url>": "x",
            "<int:content_type_id>": "1",
            "<path:app_label>": "tenants",
            "<app_label>": "tenants",
        }.items():
            url = url.replace(key, value)
        if "<" in url or "(?P" in url or "^" in url:
            url = "/admin/tenants/clinic/"
        r = client.get(url)
        if name in ("admin:login", "admin:logout"):  # the sign-in page itself, no data
            assert_no_leak(r)
            continue
        assert r.status_code in (302, 404), f"GET {url} -> {r.status_code}"
        if r.status_code == 302:
            assert "/admin/login" in r["Location"]
        assert_no_leak(r)


PUBLIC_FORMS = (
    "tenants:signup",
    "tenants:login",
    "tenants:password_reset",
    "tenants:password_reset_confirm",
)


def test_csrf_is_enforced_on_every_session_authenticated_write(world):
    """As the owner of A on A's own URLs, with a session and no CSRF token: 403 everywhere."""
    a = world["a"]
    services.phone_number_add(clinic=a, number="+14155550166")
    client = Client(enforce_csrf_checks=True)
    client.force_login(world["attacker"])
    for route, name in app_patterns():
        if CASES.get(name) in (AGENT, WEBHOOK):
            continue  # no session authentication: CSRF does not apply (tested below)
        if CASES.get(name) == PUBLIC and name not in PUBLIC_FORMS:
            continue
        url = fill(route, a).replace("+14155550177", "+14155550166")
        for method in ("post", "put", "patch", "delete"):
            r = getattr(client, method)(url, data="{}", content_type="application/json")
            assert r.status_code in (403, 405), (
                f"{method.upper()} {url} without CSRF -> {r.status_code}"
            )
    assert PhoneNumber.objects.filter(clinic=a).count() == 1


@pytest.mark.parametrize("method", METHODS)
def test_machine_endpoints_refuse_user_credentials(world, method):
    """The agent config API wants an agent token, the webhook a LiveKit signature."""
    victim = world["victim"]
    api = APIClient()
    api.force_login(world["attacker"])
    for route, name in app_patterns():
        if CASES.get(name) not in (AGENT, WEBHOOK):
            continue
        url = "/" + route + f"?clinic={victim.pk}"
        r = getattr(api, method)(url, body_for(victim), format="json")
        assert r.status_code in (401, 405), f"{method.upper()} {url} -> {r.status_code}"
        assert_no_leak(r)
