"""The regional fallback origination (decision 0113): a project's fallback SIP URI becomes a
second origination URL with a lower priority at Twilio and the secondary FQDN of the
connection at Telnyx, converged, adopted, drift-checked and removed like the first one.
The engine runs in this process against the fake LiveKit gateway and the carrier emulators
over HTTP."""

from __future__ import annotations

import uuid

import pytest
import requests

from telephony import services
from telephony.models import LiveKitProject, Provisioning
from telephony.provisioning.carrier_drift import scan_carriers
from telephony.provisioning.carrier_gateway import CarrierSpec, RemoteCarrierTrunk
from telephony.provisioning.desired import spec_hash
from telephony.provisioning.plan import plan_clinic
from telephony.ratelimit import reset_limiter
from telephony.validators import validate_sip_uri

from .conftest import NUMBERS, TELNYX_NUMBERS
from .test_carrier_engine import connect_telnyx, connect_twilio, go_live, run, twilio_trunks

pytestmark = pytest.mark.django_db
SIP = "sip:clinics.sip.example.net"
FALLBACK = "sip:clinics.eu.sip.example.net"


@pytest.fixture(autouse=True)
def _own_deployment(settings):
    settings.SWITCHBOARD_DEPLOYMENT_ID = f"t-{uuid.uuid4().hex[:8]}"
    settings.LIVEKIT_SIP_URI = SIP
    settings.LIVEKIT_SIP_FALLBACK_URI = FALLBACK
    settings.CARRIER_TIMEOUT_SECONDS = 3
    reset_limiter()
    yield
    reset_limiter()


@pytest.fixture
def twilio_live(clinic, owner, twilio, fake_gateway):
    connect_twilio(clinic, owner, twilio)
    go_live(clinic, owner, NUMBERS[:2])
    return clinic


@pytest.fixture
def telnyx_live(clinic, owner, telnyx, fake_gateway):
    connect_telnyx(clinic, owner)
    go_live(clinic, owner, TELNYX_NUMBERS[:2])
    return clinic


def urls(twilio) -> list[tuple[str, int, int]]:
    (trunk,) = twilio_trunks(twilio)
    found = [(u["sip_url"], u["priority"], u["weight"]) for u in trunk["origination_urls"]]
    return sorted(found, key=lambda u: u[1])


def connection(telnyx) -> dict:
    (conn,) = telnyx.control.state()["fqdn_connections"]
    return conn


def fqdn_order(conn) -> list[str]:
    """The connection's FQDNs in the order Telnyx tries them (primary, then secondary)."""
    by_id = {f["id"]: f"{f['fqdn']}:{f['port']}" for f in conn["fqdns"]}
    inbound = conn["inbound"]
    ids = [inbound.get("default_primary_fqdn_id"), inbound.get("default_secondary_fqdn_id")]
    return [by_id[i] for i in ids if i]


# --- Twilio ------------------------------------------------------------------------------


def test_twilio_gets_the_fallback_as_a_second_url_with_a_lower_priority(twilio_live, twilio):
    assert run(twilio_live).outcome == "converged"

    assert urls(twilio) == [
        ("sip:clinics.sip.example.net;transport=tcp", 10, 10),
        ("sip:clinics.eu.sip.example.net;transport=tcp", 20, 10),
    ]
    assert plan_clinic(twilio_live.pk).in_sync
    before = len(twilio.control.requests())
    assert run(twilio_live).outcome == "noop"
    assert len(twilio.control.requests()) == before


def test_a_fallback_configured_later_is_added_and_one_removed_goes(twilio_live, twilio, settings):
    settings.LIVEKIT_SIP_FALLBACK_URI = ""
    run(twilio_live)
    assert [u[0] for u in urls(twilio)] == ["sip:clinics.sip.example.net;transport=tcp"]

    settings.LIVEKIT_SIP_FALLBACK_URI = FALLBACK
    assert [s.action for s in plan_clinic(twilio_live.pk).steps] == ["update_carrier"]
    services.request_provisioning(twilio_live, reason="fallback configured")
    assert run(twilio_live).outcome == "converged"
    assert [u[1] for u in urls(twilio)] == [10, 20]

    settings.LIVEKIT_SIP_FALLBACK_URI = ""
    services.request_provisioning(twilio_live, reason="fallback removed")
    assert run(twilio_live).outcome == "converged"
    assert urls(twilio) == [("sip:clinics.sip.example.net;transport=tcp", 10, 10)]


def test_swapped_priorities_at_twilio_are_drift_and_are_repaired(twilio_live, twilio):
    run(twilio_live)
    assert scan_carriers()["drift_count"] == 0
    (trunk,) = twilio_trunks(twilio)
    auth = (twilio.account_sid, twilio.auth_token)
    for url in trunk["origination_urls"]:  # someone swaps them in the console
        requests.post(
            f"{twilio.url}/v1/Trunks/{trunk['sid']}/OriginationUrls/{url['sid']}",
            data={"Priority": 30 - url["priority"]},
            auth=auth,
            timeout=5,
        ).raise_for_status()

    report = scan_carriers()
    assert report["drift_count"] == 1 and "changed at the carrier" in report["drifted"][0]
    assert run(twilio_live, verify=True).outcome == "converged"
    assert [(u[0].split(";")[0], u[1]) for u in urls(twilio)] == [
        ("sip:clinics.sip.example.net", 10),
        ("sip:clinics.eu.sip.example.net", 20),
    ]
    assert scan_carriers()["drift_count"] == 0


def test_a_lost_reply_to_the_fallback_url_is_not_added_twice(twilio_live, twilio):
    twilio.control.add_faults(
        [{"method": "CreateOriginationUrl", "action": "commit_then_drop", "count": 2}]
    )
    for _ in range(4):
        if run(twilio_live).outcome == "converged":
            break
    assert [u[1] for u in urls(twilio)] == [10, 20]
    assert Provisioning.objects.get(clinic=twilio_live).state == "active"


def test_offboarding_removes_both_urls_with_the_trunk(twilio_live, owner, twilio):
    run(twilio_live)
    services.clinic_offboard(clinic=twilio_live, actor=owner)
    assert run(twilio_live).outcome == "converged"
    state = twilio.control.state()
    assert state["trunks"] == []
    assert all(n["trunk_sid"] is None for n in state["numbers"])


def test_a_projects_own_fallback_is_used_for_its_clinics(twilio_live, twilio, settings):
    settings.LIVEKIT_SIP_FALLBACK_URI = ""
    project = LiveKitProject.objects.create(
        name="eu-one",
        url="http://127.0.0.1:9",
        api_key="k",
        api_secret="s",
        sip_uri=SIP,
        sip_fallback_uri="sip:eu-two.sip.example.net:5070",
    )
    twilio_live.livekit_project = project
    twilio_live.save(update_fields=["livekit_project"])
    from telephony.provisioning.carrier_kind import CarrierTrunkKind
    from telephony.provisioning.desired import load_desired

    spec = CarrierTrunkKind().spec(load_desired(twilio_live.pk), {})
    assert spec.fallback == "sip:eu-two.sip.example.net:5070;transport=tcp"


# --- Telnyx ------------------------------------------------------------------------------


def test_telnyx_gets_the_fallback_as_the_connections_secondary_fqdn(telnyx_live, telnyx):
    assert run(telnyx_live).outcome == "converged"

    conn = connection(telnyx)
    assert fqdn_order(conn) == ["clinics.sip.example.net:5060", "clinics.eu.sip.example.net:5060"]
    assert conn["inbound"]["default_routing_method"] == "sequential"
    assert plan_clinic(telnyx_live.pk).in_sync
    assert scan_carriers()["drift_count"] == 0


def test_telnyx_without_a_fallback_sends_no_routing_change(telnyx_live, telnyx, settings):
    settings.LIVEKIT_SIP_FALLBACK_URI = ""
    run(telnyx_live)
    conn = connection(telnyx)
    assert len(conn["fqdns"]) == 1
    assert not any(r["method"] == "UpdateFqdnConnection" for r in telnyx.control.requests())


def test_telnyx_removing_the_secondary_fqdn_is_drift_and_is_repaired(telnyx_live, telnyx):
    run(telnyx_live)
    conn = connection(telnyx)
    secondary = conn["inbound"]["default_secondary_fqdn_id"]
    requests.delete(
        f"{telnyx.base_url}/fqdns/{secondary}",
        headers={"Authorization": f"Bearer {telnyx.telnyx_api_key}"},
        timeout=5,
    ).raise_for_status()

    assert scan_carriers()["drift_count"] == 1
    assert run(telnyx_live, verify=True).outcome == "converged"
    conn = connection(telnyx)
    assert fqdn_order(conn) == ["clinics.sip.example.net:5060", "clinics.eu.sip.example.net:5060"]
    assert len(conn["fqdns"]) == 2


def test_telnyx_fallback_removed_later_leaves_one_fqdn_and_no_secondary(
    telnyx_live, telnyx, settings
):
    run(telnyx_live)
    settings.LIVEKIT_SIP_FALLBACK_URI = ""
    services.request_provisioning(telnyx_live, reason="fallback removed")
    assert run(telnyx_live).outcome == "converged"
    conn = connection(telnyx)
    assert [f["fqdn"] for f in conn["fqdns"]] == ["clinics.sip.example.net"]
    assert conn["inbound"]["default_secondary_fqdn_id"] is None
    assert plan_clinic(telnyx_live.pk).in_sync


# --- the spec and its hash ---------------------------------------------------------------


def test_a_spec_without_fallback_hashes_as_before_the_field_existed():
    spec = CarrierSpec("sb:x:y", "sip:a;transport=tcp", ("+15550100",))
    remote = RemoteCarrierTrunk("TK1", "sb:x:y", "d", ("sip:a;transport=tcp",), ("+15550100",))
    assert spec_hash(spec) == spec_hash(remote.as_spec())
    with_fallback = CarrierSpec("sb:x:y", "sip:a;transport=tcp", ("+15550100",), "sip:b")
    assert spec_hash(with_fallback) != spec_hash(spec)
    unordered = RemoteCarrierTrunk("TK1", "sb:x:y", "d", ("sip:a;transport=tcp", "sip:b"))
    assert unordered.as_spec() != with_fallback  # same URLs, no order: not in sync
    ordered = RemoteCarrierTrunk(
        "TK1", "sb:x:y", "d", ("sip:a;transport=tcp", "sip:b"), ("+15550100",), ordered=True
    )
    assert ordered.as_spec() == with_fallback


@pytest.mark.parametrize(
    "value",
    ["https://x.example", "sip:user@host", "sip:", "sips:host", "sip:host:99999", "sip:ho st"],
)
def test_a_fallback_sip_uri_that_is_not_one_is_refused_with_a_sentence(value):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="Enter a SIP URI"):
        validate_sip_uri(value)


def test_a_project_with_a_bad_fallback_is_refused_naming_the_field():
    from django.core.exceptions import ValidationError

    from telephony.projects import register_project

    with pytest.raises(ValidationError) as caught:
        register_project(
            name="bad-fallback",
            url="https://x.livekit.cloud",
            api_key="k",
            api_secret="s",
            sip_uri="sip:x.sip.livekit.cloud",
            sip_fallback_uri="http://nope",
            check=False,
        )
    assert "sip_fallback_uri" in caught.value.message_dict
    assert not LiveKitProject.objects.filter(name="bad-fallback").exists()
