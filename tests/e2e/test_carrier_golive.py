"""Acceptance (issue 14): a clinic connects its Twilio or Telnyx account over the API, picks two
of the account's numbers and goes live; a real celery worker sets up LiveKit and then the
carrier (both emulators over HTTP); a simulated call reaches the clinic's room and agent;
offboarding leaves nothing of ours at the carrier and every number in the account.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from telephony.carriers import markers
from tests.e2e.conftest import CARRIER_SIP_URI, TELNYX_KEY, Api, wait_until
from tests.e2e.test_golive import converged, ours, signup

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
CALLER = "+14155550199"


def pick_two(api: Api, slug: str) -> list[str]:
    r = api("GET", f"clinics/{slug}/carrier/numbers/")
    assert r.status_code == 200, r.text
    listed = r.json()
    usable = [n["e164"] for n in listed if n["usable"] and not n["attached_elsewhere"]]
    chosen = sorted(usable)[:2]
    for e164 in chosen:
        assert api("POST", f"clinics/{slug}/numbers/", json={"e164": e164}).status_code == 201
    return chosen


def go_live_and_call(api: Api, slug: str, clinic_id: str, livekit: Any, chosen: list[str]) -> None:
    r = api("PUT", f"clinics/{slug}/agent/", json={"greeting": "Hi!", "language": "en-US"})
    assert r.status_code == 200, r.text
    assert api("POST", f"clinics/{slug}/go-live/").status_code == 202
    live = converged(api, slug)

    (trunk,) = ours(livekit.state()["inbound_trunks"], clinic_id)
    assert sorted(trunk["numbers"]) == chosen
    result = livekit.call(CALLER, chosen[0])
    assert result["result"] == "dispatch", result
    assert result["room_name"].startswith(f"{live['room_prefix']}_")
    (agent,) = result["agents"]
    assert json.loads(agent["metadata"])["clinic"] == clinic_id


def offboard(api: Api, slug: str, livekit: Any, gone: Any) -> None:
    assert api("POST", f"clinics/{slug}/offboard/").status_code == 202
    wait_until(
        lambda: gone() and not livekit.state()["inbound_trunks"],
        timeout=60,
    )


def test_twilio_connect_pick_two_go_live_call_offboard(
    api, live_server, livekit, carriers, carrier_worker
):
    twilio, _ = carriers
    body = signup(api, live_server, "owner@twilio.example", "Twilio Dental")
    slug, clinic_id = body["clinic"]["slug"], body["clinic"]["id"]
    r = api(
        "PUT",
        f"clinics/{slug}/carrier/",
        json={
            "provider": "twilio",
            "account_sid": twilio.account_sid,
            "auth_token": twilio.auth_token,
        },
    )
    assert r.status_code == 200, r.text
    chosen = pick_two(api, slug)

    go_live_and_call(api, slug, clinic_id, livekit, chosen)

    (trunk,) = twilio.control.state()["trunks"]
    assert trunk["friendly_name"] == markers.marker(clinic_id)
    assert trunk["domain_name"].endswith(".pstn.twilio.com")
    (url,) = trunk["origination_urls"]
    assert url["sip_url"] == f"{CARRIER_SIP_URI};transport=tcp"
    assert sorted(trunk["phone_numbers"]) == chosen
    carrier = api("GET", f"clinics/{slug}/carrier/").json()
    assert carrier["trunk_id"] == trunk["sid"]
    assert [(n["e164"], n["attached"]) for n in carrier["numbers"]] == [(n, True) for n in chosen]
    # LiveKit was set up first, the carrier last.
    creates = [r["method"] for r in livekit.requests() if r["method"].startswith("Create")]
    assert creates == ["CreateSIPInboundTrunk", "CreateSIPDispatchRule"]
    first_carrier = min(r["at"] for r in twilio.control.requests("CreateTrunk"))
    assert max(r["at"] for r in livekit.requests("CreateSIPDispatchRule")) <= first_carrier

    offboard(api, slug, livekit, lambda: not twilio.control.state()["trunks"])
    numbers = twilio.control.state()["numbers"]
    assert len(numbers) == 3 and all(n["trunk_sid"] is None for n in numbers)


def test_telnyx_connect_pick_two_go_live_call_offboard(
    api, live_server, livekit, carriers, carrier_worker
):
    _, telnyx = carriers
    body = signup(api, live_server, "owner@telnyx.example", "Telnyx Dental")
    slug, clinic_id = body["clinic"]["slug"], body["clinic"]["id"]
    r = api("PUT", f"clinics/{slug}/carrier/", json={"provider": "telnyx", "api_key": TELNYX_KEY})
    assert r.status_code == 200, r.text
    chosen = pick_two(api, slug)

    go_live_and_call(api, slug, clinic_id, livekit, chosen)

    (conn,) = telnyx.control.state()["fqdn_connections"]
    assert conn["connection_name"] == markers.marker(clinic_id)
    assert conn["transport_protocol"] == "TCP"
    (fqdn,) = conn["fqdns"]
    assert (fqdn["fqdn"], fqdn["port"]) == ("lk-e2e.sip.example.net", 5060)
    assert sorted(conn["phone_numbers"]) == chosen

    offboard(api, slug, livekit, lambda: not telnyx.control.state()["fqdn_connections"])
    numbers = telnyx.control.state()["numbers"]
    assert len(numbers) == 3 and all(not n["connection_id"] for n in numbers)
