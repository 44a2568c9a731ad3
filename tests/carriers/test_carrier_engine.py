"""The carrier trunk as a kind of the provisioning engine (decisions/0080): the engine run in
this process against the fake LiveKit gateway and the Twilio and Telnyx emulators over HTTP.
"""

from __future__ import annotations

import uuid

import pytest

from telephony import carrier_services as carriers
from telephony import services
from telephony.carriers import markers
from telephony.models import CarrierAccount, Provisioning, ProvisioningEvent
from telephony.provisioning.plan import plan_clinic
from telephony.provisioning.reconcile import reconcile_clinic
from telephony.ratelimit import reset_limiter

from .conftest import NUMBERS, TELNYX_KEY, TELNYX_NUMBERS

pytestmark = pytest.mark.django_db
SIP = "sip:clinics.sip.example.net"


@pytest.fixture(autouse=True)
def _own_deployment(settings):
    settings.SWITCHBOARD_DEPLOYMENT_ID = f"t-{uuid.uuid4().hex[:8]}"
    settings.LIVEKIT_SIP_URI = SIP
    settings.CARRIER_TIMEOUT_SECONDS = 3
    reset_limiter()
    yield
    reset_limiter()


def connect_twilio(clinic, owner, twilio):
    creds = carriers.parse_credentials(
        provider="twilio", account_sid=twilio.account_sid, auth_token=twilio.auth_token
    )
    return carriers.carrier_connect(clinic=clinic, creds=creds, actor=owner)


def connect_telnyx(clinic, owner):
    creds = carriers.parse_credentials(provider="telnyx", api_key=TELNYX_KEY)
    return carriers.carrier_connect(clinic=clinic, creds=creds, actor=owner)


def go_live(clinic, owner, numbers):
    for n in numbers:
        services.phone_number_add(clinic=clinic, number=n)
    services.clinic_go_live(clinic=clinic, actor=owner)


def prov(clinic) -> Provisioning:
    return Provisioning.objects.get(clinic=clinic)


def run(clinic, **kw):
    return reconcile_clinic(clinic.pk, **kw)


def twilio_trunks(twilio):
    return twilio.control.state()["trunks"]


def actions(clinic) -> list[str]:
    rows = ProvisioningEvent.objects.filter(clinic=clinic, outcome="ok").order_by("at")
    return [e.action for e in rows if e.action.startswith(("create_", "delete_", "adopt_"))]


@pytest.fixture
def twilio_live(clinic, owner, twilio, fake_gateway):
    connect_twilio(clinic, owner, twilio)
    go_live(clinic, owner, NUMBERS[:2])
    return clinic


def test_twilio_goes_live_after_livekit_with_one_trunk_url_and_both_numbers(twilio_live, twilio):
    assert run(twilio_live).outcome == "converged"

    (trunk,) = twilio_trunks(twilio)
    assert trunk["friendly_name"] == markers.marker(twilio_live.pk)
    assert trunk["domain_name"] == markers.twilio_domain(twilio_live.pk, 1)
    (url,) = trunk["origination_urls"]
    assert url["sip_url"] == "sip:clinics.sip.example.net;transport=tcp"
    assert (url["priority"], url["weight"], url["enabled"]) == (10, 10, True)
    assert sorted(trunk["phone_numbers"]) == NUMBERS[:2]
    # LiveKit first, the carrier last.
    assert actions(twilio_live) == ["create_trunk", "create_rule", "create_carrier"]
    p = prov(twilio_live)
    assert p.carrier_trunk_id == trunk["sid"] and p.carrier_intent is None
    status = carriers.carrier_status(clinic=twilio_live)
    assert status["trunk_id"] == trunk["sid"]
    assert [n["attached"] for n in status["numbers"]] == [True, True]
    # Converged: a second run calls nobody.
    before = len(twilio.control.requests())
    assert run(twilio_live).outcome == "noop"
    assert len(twilio.control.requests()) == before


def test_a_number_added_later_is_attached_and_one_removed_detached(twilio_live, owner, twilio):
    run(twilio_live)
    services.phone_number_add(clinic=twilio_live, number=NUMBERS[2])
    services.phone_number_remove(clinic=twilio_live, e164=NUMBERS[0])
    assert run(twilio_live).outcome == "converged"

    (trunk,) = twilio_trunks(twilio)
    assert sorted(trunk["phone_numbers"]) == NUMBERS[1:]
    numbers = {n["phone_number"]: n for n in twilio.control.state()["numbers"]}
    assert numbers[NUMBERS[0]]["trunk_sid"] is None  # detached, still in the account


def test_offboarding_removes_our_trunk_and_keeps_the_numbers(twilio_live, owner, twilio):
    run(twilio_live)
    services.clinic_offboard(clinic=twilio_live, actor=owner)
    assert run(twilio_live).outcome == "converged"

    assert twilio_trunks(twilio) == []
    state = twilio.control.state()
    assert sorted(n["phone_number"] for n in state["numbers"]) == NUMBERS
    assert all(n["trunk_sid"] is None for n in state["numbers"])
    # The carrier's routing goes before LiveKit's trunk.
    assert actions(twilio_live)[-3:] == ["delete_carrier", "delete_rule", "delete_trunk"]


def test_a_lost_create_reply_is_adopted_not_created_twice(twilio_live, twilio):
    twilio.control.add_faults([{"method": "CreateTrunk", "action": "commit_then_drop", "count": 1}])
    assert run(twilio_live).outcome == "retry"
    assert prov(twilio_live).carrier_intent is not None

    assert run(twilio_live).outcome == "converged"
    (trunk,) = twilio_trunks(twilio)
    assert sorted(trunk["phone_numbers"]) == NUMBERS[:2]
    assert len(trunk["origination_urls"]) == 1
    assert len(twilio.control.created_ids("CreateTrunk")) == 1
    assert "adopt_carrier" in actions(twilio_live)


def test_lost_attach_and_origination_replies_converge_without_duplicates(twilio_live, twilio):
    twilio.control.add_faults(
        [
            {"method": "CreateOriginationUrl", "action": "commit_then_drop", "count": 1},
            {"method": "AttachPhoneNumber", "action": "commit_then_drop", "count": 1},
        ]
    )
    for _ in range(4):
        if run(twilio_live).outcome == "converged":
            break
    (trunk,) = twilio_trunks(twilio)
    assert len(trunk["origination_urls"]) == 1
    assert sorted(trunk["phone_numbers"]) == NUMBERS[:2]
    assert prov(twilio_live).state == "active"


@pytest.mark.parametrize("retry_after", [7, None])
def test_429_is_transient_and_waits_at_least_retry_after(twilio_live, twilio, retry_after):
    rule = {"method": "CreateTrunk", "action": "status", "status": 429, "count": 1}
    if retry_after:
        rule["retry_after"] = retry_after
    twilio.control.add_faults([rule])
    result = run(twilio_live)
    assert result.outcome == "retry"
    if retry_after:
        assert result.retry_in >= retry_after
    p = prov(twilio_live)
    assert p.state == "retrying" and "slow down" in p.last_error
    if retry_after:
        # Retry-After pauses the account for every process (Redis): nothing is sent.
        before = len(twilio.control.requests())
        assert run(twilio_live).outcome == "retry"
        assert prov(twilio_live).last_error_code == "carrier_rate_limit"
        assert len(twilio.control.requests()) == before
        # Neither the 429 nor the paused account's refusal spent an attempt (decision 0160).
        assert (prov(twilio_live).attempts, prov(twilio_live).rate_limited_runs) == (0, 2)
        end_pause()
    assert run(twilio_live).outcome == "converged"
    assert len(twilio_trunks(twilio)) == 1
    assert len(twilio.control.created_ids("CreateTrunk")) == 1


def end_pause() -> None:
    """The account's pause, as if its Retry-After had passed."""
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter(f"{settings.SWITCHBOARD_DEPLOYMENT_ID}:carrier:*"):
        client.delete(key)
    reset_limiter()


def test_a_5xx_window_is_retried_until_it_passes(twilio_live, twilio):
    twilio.control.add_faults(
        [{"method": "AttachPhoneNumber", "action": "status", "status": 503, "count": 2}]
    )
    outcomes = [run(twilio_live).outcome for _ in range(4)]
    assert outcomes[-1] in ("converged", "noop") and "retry" in outcomes
    (trunk,) = twilio_trunks(twilio)
    assert sorted(trunk["phone_numbers"]) == NUMBERS[:2]


def test_a_number_on_another_trunk_is_never_taken_over(twilio_live, twilio):
    other = twilio.control.state()  # a trunk of the account's own, holding the first number
    import requests

    auth = (twilio.account_sid, twilio.auth_token)
    made = requests.post(
        f"{twilio.url}/v1/Trunks", data={"FriendlyName": "their own"}, auth=auth, timeout=5
    ).json()
    sid = {n["phone_number"]: n["sid"] for n in other["numbers"]}[NUMBERS[0]]
    requests.post(
        f"{twilio.url}/v1/Trunks/{made['sid']}/PhoneNumbers",
        data={"PhoneNumberSid": sid},
        auth=auth,
        timeout=5,
    ).raise_for_status()

    assert run(twilio_live).outcome == "failed"
    p = prov(twilio_live)
    assert p.last_error_code == "carrier_conflict"
    assert f"{NUMBERS[0]} already sends its calls to another trunk" in p.last_error
    trunks = {t["friendly_name"]: t for t in twilio_trunks(twilio)}
    assert trunks["their own"]["phone_numbers"] == [NUMBERS[0]]  # untouched
    assert NUMBERS[0] not in trunks[markers.marker(twilio_live.pk)]["phone_numbers"]

    # The admin removes that number here and presses Retry: the rest goes live.
    services.phone_number_remove(clinic=twilio_live, e164=NUMBERS[0])
    assert run(twilio_live).outcome == "converged"
    trunks = {t["friendly_name"]: t for t in twilio_trunks(twilio)}
    assert trunks["their own"]["phone_numbers"] == [NUMBERS[0]]
    assert trunks[markers.marker(twilio_live.pk)]["phone_numbers"] == [NUMBERS[1]]


def test_revoked_credentials_stop_every_call_until_they_are_fixed(twilio_live, owner, twilio):
    twilio.control.post("credentials", {"auth_token": "a-new-token-" + "x" * 20})
    assert run(twilio_live).outcome == "failed"
    account = CarrierAccount.objects.get(clinic=twilio_live)
    assert account.state == "credentials_rejected"
    assert "Twilio rejected these credentials" in account.status_message
    assert prov(twilio_live).last_error_code == "carrier_credentials"
    assert carriers.carrier_status(clinic=twilio_live)["state"] == "credentials_rejected"

    # Retry before fixing them: no request reaches Twilio.
    before = len(twilio.control.requests())
    services.provisioning_retry(clinic=twilio_live)
    assert run(twilio_live).outcome == "failed"
    assert len(twilio.control.requests()) == before

    # Working credentials saved: provisioning resumes on its own request.
    creds = carriers.parse_credentials(
        provider="twilio", account_sid=twilio.account_sid, auth_token="a-new-token-" + "x" * 20
    )
    carriers.carrier_connect(clinic=twilio_live, creds=creds, actor=owner)
    assert run(twilio_live).outcome == "converged"
    assert len(twilio_trunks(twilio)) == 1


def test_disconnect_removes_our_trunk_then_forgets_the_credentials(twilio_live, owner, twilio):
    run(twilio_live)
    assert carriers.carrier_disconnect(clinic=twilio_live, actor=owner)
    assert CarrierAccount.objects.get(clinic=twilio_live).state == "disconnecting"
    assert run(twilio_live).outcome == "converged"

    assert twilio_trunks(twilio) == []
    assert not CarrierAccount.objects.filter(clinic=twilio_live).exists()
    assert len(twilio.control.state()["numbers"]) == len(NUMBERS)
    assert prov(twilio_live).state == "active"  # LiveKit's side stays: manual path


def test_a_clinic_back_after_offboarding_gets_a_new_domain_name(twilio_live, owner, twilio):
    run(twilio_live)
    carriers.carrier_disconnect(clinic=twilio_live, actor=owner)
    run(twilio_live)
    assert markers.twilio_domain(twilio_live.pk, 1) in twilio.control.state()["reserved_domains"]

    connect_twilio(twilio_live, owner, twilio)
    assert run(twilio_live).outcome == "converged"
    (trunk,) = twilio_trunks(twilio)
    assert trunk["domain_name"] == markers.twilio_domain(twilio_live.pk, 2)


def test_foreign_trunks_are_never_touched(twilio_live, owner, twilio):
    import requests

    auth = (twilio.account_sid, twilio.auth_token)
    requests.post(
        f"{twilio.url}/v1/Trunks", data={"FriendlyName": "sb:elsewhere:x"}, auth=auth, timeout=5
    ).raise_for_status()
    run(twilio_live)
    services.clinic_offboard(clinic=twilio_live, actor=owner)
    run(twilio_live)
    assert [t["friendly_name"] for t in twilio_trunks(twilio)] == ["sb:elsewhere:x"]


def test_the_dry_run_shows_the_carrier_steps_and_calls_nothing_that_writes(twilio_live, twilio):
    plan = plan_clinic(twilio_live.pk)
    assert [s.action for s in plan.steps] == ["create_trunk", "create_rule", "create_carrier"]
    assert "sip:clinics.sip.example.net;transport=tcp" in plan.steps[-1].reason
    writes = [r for r in twilio.control.requests() if r["method"].startswith(("Create", "Attach"))]
    assert writes == []

    run(twilio_live)
    assert plan_clinic(twilio_live.pk).in_sync


def test_drift_at_the_carrier_is_repaired_by_a_verifying_run(twilio_live, twilio):
    import requests

    run(twilio_live)
    (trunk,) = twilio_trunks(twilio)
    (url,) = trunk["origination_urls"]
    auth = (twilio.account_sid, twilio.auth_token)
    requests.delete(
        f"{twilio.url}/v1/Trunks/{trunk['sid']}/OriginationUrls/{url['sid']}", auth=auth, timeout=5
    ).raise_for_status()
    plan = plan_clinic(twilio_live.pk)
    assert [s.action for s in plan.steps] == ["update_carrier"]

    assert run(twilio_live, verify=True).outcome == "converged"
    (trunk,) = twilio_trunks(twilio)
    assert len(trunk["origination_urls"]) == 1


def test_the_manual_path_sets_nothing_up_at_a_carrier(clinic, owner, fake_gateway, twilio):
    go_live(clinic, owner, NUMBERS[:1])
    assert run(clinic).outcome == "converged"
    assert actions(clinic) == ["create_trunk", "create_rule"]
    assert twilio.control.requests() == []


# --- Telnyx ------------------------------------------------------------------------------


@pytest.fixture
def telnyx_live(clinic, owner, telnyx, fake_gateway):
    connect_telnyx(clinic, owner)
    go_live(clinic, owner, TELNYX_NUMBERS[:2])
    return clinic


def test_telnyx_goes_live_with_one_connection_fqdn_and_both_numbers(telnyx_live, telnyx):
    assert run(telnyx_live).outcome == "converged"

    (conn,) = telnyx.control.state()["fqdn_connections"]
    assert conn["connection_name"] == markers.marker(telnyx_live.pk)
    assert conn["transport_protocol"] == "TCP"
    assert conn["inbound"]["ani_number_format"] == "+E.164"
    (fqdn,) = conn["fqdns"]
    assert (fqdn["fqdn"], fqdn["port"]) == ("clinics.sip.example.net", 5060)
    assert sorted(conn["phone_numbers"]) == TELNYX_NUMBERS[:2]
    assert actions(telnyx_live) == ["create_trunk", "create_rule", "create_carrier"]


def test_telnyx_offboarding_leaves_no_connection_and_every_number(telnyx_live, owner, telnyx):
    run(telnyx_live)
    services.clinic_offboard(clinic=telnyx_live, actor=owner)
    assert run(telnyx_live).outcome == "converged"
    state = telnyx.control.state()
    assert state["fqdn_connections"] == []
    assert sorted(n["phone_number"] for n in state["numbers"]) == TELNYX_NUMBERS
    assert all(not n["connection_id"] for n in state["numbers"])


def test_telnyx_rate_limit_10011_is_transient(telnyx_live, telnyx):
    telnyx.control.add_faults(
        [{"method": "CreateFqdnConnection", "action": "status", "status": 429, "count": 1}]
    )
    assert run(telnyx_live).outcome == "retry"
    assert "slow down" in prov(telnyx_live).last_error
    reset_limiter()
    assert run(telnyx_live).outcome == "converged"
    assert len(telnyx.control.state()["fqdn_connections"]) == 1


def test_the_drift_scan_repairs_a_number_detached_at_the_carrier(twilio_live, twilio):
    import requests

    from telephony.provisioning.carrier_drift import scan_carriers

    run(twilio_live)
    assert scan_carriers() == {"checked": 1, "drift_count": 0, "drifted": [], "errors": 0}
    (trunk,) = twilio_trunks(twilio)
    sid = {n["phone_number"]: n["sid"] for n in twilio.control.state()["numbers"]}[NUMBERS[0]]
    auth = (twilio.account_sid, twilio.auth_token)
    requests.delete(
        f"{twilio.url}/v1/Trunks/{trunk['sid']}/PhoneNumbers/{sid}", auth=auth, timeout=5
    ).raise_for_status()

    report = scan_carriers()
    assert report["drift_count"] == 1 and "changed at the carrier" in report["drifted"][0]
    assert run(twilio_live, verify=True).outcome == "converged"
    (trunk,) = twilio_trunks(twilio)
    assert sorted(trunk["phone_numbers"]) == NUMBERS[:2]
    assert scan_carriers()["drift_count"] == 0
