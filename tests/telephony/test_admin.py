"""The staff admin: clinic changelist columns, search and filters in constant queries, the
change page's inlines (the SIP password write-only), actions through the services with the
acting staff user recorded, and read-only provisioning records."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from telephony.models import AgentConfig, Provisioning, ProvisioningEvent, TrunkSettings
from telephony.services import phone_number_add, trunk_settings_update
from tenants.models import Clinic, Membership, User
from tests.factories import UserFactory, make_clinic

pytestmark = pytest.mark.django_db

SECRET = "admin-SIP-s3cret"
CHANGELIST = "admin:tenants_clinic_changelist"


@pytest.fixture
def staff(db):
    return UserFactory(email="ops@switchboard.example", is_staff=True, is_superuser=True)


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def publish():
    with mock.patch("telephony.services._publish") as p:
        yield p


def _change_url(clinic: Clinic) -> str:
    return reverse("admin:tenants_clinic_change", args=[clinic.pk])


def _make_live(clinic: Clinic, **prov: object) -> None:
    Clinic.objects.filter(pk=clinic.pk).update(state=Clinic.State.LIVE)
    clinic.state = Clinic.State.LIVE
    Provisioning.objects.filter(clinic=clinic).update(**prov)


def _form_data(response) -> dict:
    """What a browser would post back for the change page as rendered."""
    data: dict = {}

    def add(form) -> None:
        for name, field in form.fields.items():
            key = form.add_prefix(name)
            if (
                field.widget.input_type == "password"
                if hasattr(field.widget, "input_type")
                else False
            ):
                data[key] = ""
                continue
            value = form[name].value()
            if value is None:
                continue
            if isinstance(value, bool):
                if value:
                    data[key] = "on"
            elif isinstance(value, (list, tuple)):
                data[key] = [str(v) for v in value]
            else:
                data[key] = str(value)

    add(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        fs = inline.formset
        for name in fs.management_form.fields:
            data[fs.management_form.add_prefix(name)] = fs.management_form[name].value()
        for form in fs.forms:
            add(form)
    return data


# --- changelist ---------------------------------------------------------------------------


def test_changelist_shows_provisioning_columns(staff_client, clinic):
    phone_number_add(clinic=clinic, number="+14155550100")
    phone_number_add(clinic=clinic, number="+14155550101")
    _make_live(
        clinic,
        state="retrying",
        trunk_id="ST_trunk1",
        dispatch_rule_id="SDR_rule1",
        attempts=3,
        last_error="LiveKit did not answer in time.",
        next_attempt_at=timezone.now(),
    )
    r = staff_client.get(reverse(CHANGELIST))
    assert r.status_code == 200
    html = r.content.decode()
    for text in (
        "Bright Smile Dental",
        "Live",
        "Retrying",
        "ST_trunk1",
        "SDR_rule1",
        "LiveKit did not answer in time.",
        '<td class="field-numbers">2</td>',
        '<td class="field-attempts">3</td>',
    ):
        assert text in html, text


def test_changelist_query_count_is_constant(staff_client):
    def queries_with(n: int) -> int:
        while (i := Clinic.objects.count()) < n:
            c = make_clinic(name=f"Clinic {i:02d}")
            phone_number_add(clinic=c, number=f"+1415555{i:04d}")
            ProvisioningEvent.objects.create(clinic=c, action="plan")
        with CaptureQueriesContext(connection) as ctx:
            r = staff_client.get(reverse(CHANGELIST))
        assert r.status_code == 200
        return len(ctx.captured_queries)

    assert queries_with(3) == queries_with(30)


@pytest.mark.parametrize(
    "query", ["Bright", "bright-smile", "+14155550100", "ST_findme", "SDR_findme"]
)
def test_search_by_name_slug_number_trunk_or_rule(staff_client, clinic, query):
    make_clinic(name="Other Dental")
    phone_number_add(clinic=clinic, number="+14155550100")
    phone_number_add(clinic=clinic, number="+14155550101")
    Provisioning.objects.filter(clinic=clinic).update(
        trunk_id="ST_findme", dispatch_rule_id="SDR_findme"
    )
    r = staff_client.get(reverse(CHANGELIST), {"q": query})
    assert [c.pk for c in r.context["cl"].result_list] == [clinic.pk]
    assert r.context["cl"].result_list[0].number_count == 2


def test_filter_by_clinic_state_and_provisioning_state(staff_client, clinic):
    other = make_clinic(name="Other Dental")
    _make_live(other, state="failed")
    r = staff_client.get(reverse(CHANGELIST), {"state": "live"})
    assert [c.pk for c in r.context["cl"].result_list] == [other.pk]
    r = staff_client.get(reverse(CHANGELIST), {"provisioning__state": "new"})
    assert [c.pk for c in r.context["cl"].result_list] == [clinic.pk]
    r = staff_client.get(reverse(CHANGELIST), {"provisioning__state": "failed"})
    assert [c.pk for c in r.context["cl"].result_list] == [other.pk]


def test_non_staff_cannot_see_the_admin(client, owner, clinic):
    client.force_login(owner)
    r = client.get(reverse(CHANGELIST))
    assert r.status_code == 302 and "/login/" in r["Location"]


# --- change page ------------------------------------------------------------------------


def test_change_page_has_the_inlines_and_never_renders_the_password(staff_client, clinic):
    phone_number_add(clinic=clinic, number="+14155550100")
    trunk_settings_update(clinic=clinic, auth_username="bright", auth_password=SECRET)
    ProvisioningEvent.objects.create(clinic=clinic, action="create_trunk", detail="made it")
    stored = TrunkSettings.objects.filter(clinic=clinic).values_list("auth_password", flat=True)

    r = staff_client.get(_change_url(clinic))

    assert r.status_code == 200
    html = r.content.decode()
    assert SECRET not in html
    with connection.cursor() as cur:
        cur.execute("SELECT auth_password FROM telephony_trunksettings")
        (ciphertext,) = cur.fetchone()
    assert ciphertext not in html
    assert "A password is stored" in html
    for text in ("+14155550100", "owner@bright.example", "create_trunk", "made it"):
        assert text in html, text
    names = [i.formset.prefix for i in r.context["inline_admin_formsets"]]
    assert names == [
        "phone_numbers",
        "memberships",
        "agent_config",
        "trunk_settings",
        "provisioning_events",
    ]
    assert list(stored) == [SECRET]


def test_saving_with_a_blank_password_keeps_the_stored_one(staff_client, clinic, publish):
    trunk_settings_update(clinic=clinic, auth_username="bright", auth_password=SECRET)
    data = _form_data(staff_client.get(_change_url(clinic)))
    data["trunk_settings-0-auth_username"] = "bright2"
    data["trunk_settings-0-allowed_addresses"] = "192.0.2.1\n198.51.100.0/24"

    r = staff_client.post(_change_url(clinic), data)

    assert r.status_code == 302, r.context and r.context["adminform"].form.errors
    ts = TrunkSettings.objects.get(clinic=clinic)
    assert (ts.auth_username, ts.auth_password) == ("bright2", SECRET)
    assert ts.allowed_addresses == ["192.0.2.1", "198.51.100.0/24"]


def test_a_new_password_replaces_it_and_reprovisions_a_live_clinic(
    staff_client, clinic, publish, django_capture_on_commit_callbacks
):
    trunk_settings_update(clinic=clinic, auth_username="bright", auth_password=SECRET)
    phone_number_add(clinic=clinic, number="+14155550100")
    _make_live(clinic)
    data = _form_data(staff_client.get(_change_url(clinic)))
    data["trunk_settings-0-auth_password"] = "brand-new-pass"

    with django_capture_on_commit_callbacks(execute=True):
        r = staff_client.post(_change_url(clinic), data)

    assert r.status_code == 302
    assert TrunkSettings.objects.get(clinic=clinic).auth_password == "brand-new-pass"
    assert Provisioning.objects.get(clinic=clinic).generation == 1
    publish.assert_called_once_with(str(clinic.pk), False)


def test_a_bad_address_is_a_form_error_and_nothing_changes(staff_client, clinic):
    data = _form_data(staff_client.get(_change_url(clinic)))
    data["trunk_settings-0-allowed_addresses"] = "not an address!"
    r = staff_client.post(_change_url(clinic), data)
    assert r.status_code == 200
    assert "is not an IP address" in r.content.decode()
    assert TrunkSettings.objects.get(clinic=clinic).allowed_addresses == []


def test_agent_edits_go_through_the_service_and_bump_the_version(staff_client, clinic):
    data = _form_data(staff_client.get(_change_url(clinic)))
    data["agent_config-0-greeting"] = "Hello from the admin"
    r = staff_client.post(_change_url(clinic), data)
    assert r.status_code == 302
    config = AgentConfig.objects.get(clinic=clinic)
    assert (config.greeting, config.version) == ("Hello from the admin", 2)


def test_saving_unchanged_changes_nothing(staff_client, clinic):
    data = _form_data(staff_client.get(_change_url(clinic)))
    r = staff_client.post(_change_url(clinic), data)
    assert r.status_code == 302
    assert AgentConfig.objects.get(clinic=clinic).version == 1
    assert Provisioning.objects.get(clinic=clinic).generation == 0


def test_a_room_prefix_change_goes_through_the_service(staff_client, clinic, publish):
    _make_live(clinic)
    data = _form_data(staff_client.get(_change_url(clinic)))
    data["room_prefix"] = "bright-admin"
    r = staff_client.post(_change_url(clinic), data)
    assert r.status_code == 302
    clinic.refresh_from_db()
    assert clinic.room_prefix == "bright-admin"
    assert Provisioning.objects.get(clinic=clinic).generation == 1


def test_an_overlapping_room_prefix_is_a_form_error(staff_client, clinic):
    other = make_clinic(name="Other Dental")
    data = _form_data(staff_client.get(_change_url(clinic)))
    data["room_prefix"] = other.room_prefix + "-x"
    r = staff_client.post(_change_url(clinic), data)
    assert r.status_code == 200
    assert "overlaps another clinic" in r.content.decode()


def test_only_recent_events_are_shown(staff_client, clinic):
    ProvisioningEvent.objects.bulk_create(
        ProvisioningEvent(clinic=clinic, action=f"step-{i}") for i in range(25)
    )
    r = staff_client.get(_change_url(clinic))
    (events,) = [
        i for i in r.context["inline_admin_formsets"] if i.formset.model is ProvisioningEvent
    ]
    assert len(events.formset.forms) == 20


def test_clinics_cannot_be_added_or_deleted_in_admin(staff_client, clinic):
    assert staff_client.get(reverse("admin:tenants_clinic_add")).status_code == 403
    assert (
        staff_client.get(reverse("admin:tenants_clinic_delete", args=[clinic.pk])).status_code
        == 403
    )


# --- actions ------------------------------------------------------------------------------


def test_reprovision_now_goes_through_the_service_and_records_the_staff_user(
    staff_client, staff, clinic, publish, django_capture_on_commit_callbacks
):
    _make_live(clinic, state="active", generation=4, observed_generation=4)
    draft = make_clinic(name="Draft Dental")

    with django_capture_on_commit_callbacks(execute=True):
        r = staff_client.post(
            reverse(CHANGELIST),
            {"action": "reprovision_now", "_selected_action": [clinic.pk, draft.pk]},
            follow=True,
        )

    assert r.status_code == 200
    prov = Provisioning.objects.get(clinic=clinic)
    assert (prov.generation, prov.state) == (5, "pending")
    event = ProvisioningEvent.objects.get(clinic=clinic)
    assert (event.action, event.detail, event.actor) == (
        "requested",
        "re-provision requested",
        staff,
    )
    publish.assert_called_once_with(str(clinic.pk), True)
    assert Provisioning.objects.get(clinic=draft).generation == 0
    messages = [str(m) for m in r.context["messages"]]
    assert messages == [
        "Re-provisioning 1 clinic(s).",
        "Skipped 1 draft clinic(s): they are not live.",
    ]


def test_offboard_asks_for_confirmation_first(staff_client, clinic, publish):
    _make_live(clinic)
    r = staff_client.post(
        reverse(CHANGELIST), {"action": "offboard", "_selected_action": [clinic.pk]}
    )
    assert r.status_code == 200
    assert "Yes, offboard 1 clinic" in r.content.decode()
    clinic.refresh_from_db()
    assert clinic.state == "live"
    assert not ProvisioningEvent.objects.exists()


def test_offboard_when_confirmed_records_the_staff_user(
    staff_client, staff, clinic, publish, django_capture_on_commit_callbacks
):
    phone_number_add(clinic=clinic, number="+14155550100")
    _make_live(clinic, state="active", generation=1, observed_generation=1)

    with django_capture_on_commit_callbacks(execute=True):
        r = staff_client.post(
            reverse(CHANGELIST),
            {"action": "offboard", "_selected_action": [clinic.pk], "confirm": "yes"},
        )

    assert r.status_code == 302
    clinic.refresh_from_db()
    assert clinic.state == "offboarded"
    prov = Provisioning.objects.get(clinic=clinic)
    assert (prov.state, prov.generation) == ("deprovisioning", 2)
    event = ProvisioningEvent.objects.get(clinic=clinic)
    assert (event.detail, event.actor) == ("offboard", staff)
    publish.assert_called_once_with(str(clinic.pk), False)


# --- users and read-only records ----------------------------------------------------------


def test_staff_can_add_a_user_by_email(staff_client):
    r = staff_client.post(
        reverse("admin:tenants_user_add"),
        {
            "email": "New.Person@Example.org",
            "usable_password": "true",
            "password1": "a-Long-passw0rd!",
            "password2": "a-Long-passw0rd!",
        },
    )
    assert r.status_code == 302, r.context and r.context["adminform"].form.errors
    user = User.objects.get(email="new.person@example.org")
    assert user.check_password("a-Long-passw0rd!")


def test_a_case_insensitive_duplicate_email_is_a_form_error(staff_client, owner):
    r = staff_client.post(
        reverse("admin:tenants_user_add"),
        {
            "email": "OWNER@bright.example",
            "usable_password": "true",
            "password1": "a-Long-passw0rd!",
            "password2": "a-Long-passw0rd!",
        },
    )
    assert r.status_code == 200
    assert "already exists" in r.content.decode()
    assert User.objects.filter(email__iexact="owner@bright.example").count() == 1


def test_user_changelist_and_change_page_render(staff_client, owner):
    assert (
        staff_client.get(reverse("admin:tenants_user_changelist"), {"q": "owner"}).status_code
        == 200
    )
    assert (
        staff_client.get(reverse("admin:tenants_user_change", args=[owner.pk])).status_code == 200
    )


@pytest.mark.parametrize("model", ["provisioning", "provisioningevent"])
def test_provisioning_records_are_read_only(staff_client, clinic, model):
    ProvisioningEvent.objects.create(clinic=clinic, action="plan")
    obj = (
        Provisioning.objects.get(clinic=clinic)
        if model == "provisioning"
        else ProvisioningEvent.objects.get()
    )
    assert staff_client.get(reverse(f"admin:telephony_{model}_changelist")).status_code == 200
    assert staff_client.get(reverse(f"admin:telephony_{model}_add")).status_code == 403
    change = staff_client.get(reverse(f"admin:telephony_{model}_change", args=[obj.pk]))
    assert change.status_code == 200 and not change.context["has_change_permission"]
    assert (
        staff_client.post(reverse(f"admin:telephony_{model}_delete", args=[obj.pk])).status_code
        == 403
    )


def test_membership_inline_can_add_a_member(staff_client, clinic):
    newcomer = UserFactory(email="new@bright.example")
    data = _form_data(staff_client.get(_change_url(clinic)))
    data["memberships-TOTAL_FORMS"] = str(int(data["memberships-TOTAL_FORMS"]) + 1)
    i = int(data["memberships-TOTAL_FORMS"]) - 1
    data[f"memberships-{i}-user"] = str(newcomer.pk)
    data[f"memberships-{i}-role"] = "viewer"
    data[f"memberships-{i}-clinic"] = str(clinic.pk)
    r = staff_client.post(_change_url(clinic), data)
    assert r.status_code == 302
    assert Membership.objects.get(user=newcomer).role == "viewer"
