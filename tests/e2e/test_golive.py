"""Acceptance: a clinic goes from signup to a live trunk and dispatch rule, with real parts
(PostgreSQL, Redis, a celery worker subprocess, the emulator over HTTP, the API over HTTP).
"""

from __future__ import annotations

import json
import re
from typing import Any
from unittest import mock
from urllib.parse import quote

import pytest
import requests
from django.core import mail

from telephony.tasks import sweep_provisioning
from tests.e2e.conftest import Api, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

N1, N2, N3 = "+14155550111", "+14155550112", "+14155550113"


def signup(api: Api, live_server: Any, email: str, clinic: str) -> dict[str, Any]:
    r = api(
        "POST",
        "signup",
        json={"email": email, "password": "a-Long-passw0rd!", "clinic_name": clinic},
    )
    assert r.status_code == 201, r.text
    body = r.json()
    api.auth(body["token"])
    # Follow the verification link from the email, over HTTP, as the owner would.
    link = re.search(r"https?://\S+/verify-email/\S+", mail.outbox[-1].body)
    assert link, mail.outbox[-1].body
    path = link.group(0).split("/", 3)[3]
    assert requests.get(f"{live_server.url}/{path}", timeout=10).status_code in (200, 302)
    return body


def provisioning(api: Api, slug: str) -> dict[str, Any]:
    r = api("GET", f"clinics/{slug}/provisioning/")
    assert r.status_code == 200, r.text
    return r.json()


def converged(api: Api, slug: str, state: str = "active") -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        p = provisioning(api, slug)
        assert p["state"] != "failed", p
        return p if p["state"] == state and p["observed_generation"] == p["generation"] else None

    return wait_until(check, timeout=60)


def ours(items: list[dict[str, Any]], clinic_id: str) -> list[dict[str, Any]]:
    return [i for i in items if json.loads(i.get("metadata") or "{}").get("clinic") == clinic_id]


def test_signup_to_live_then_edit_then_offboard(api, live_server, livekit, worker):
    body = signup(api, live_server, "owner@brightsmile.example", "Bright Smile Dental")
    slug, clinic_id = body["clinic"]["slug"], body["clinic"]["id"]

    for n in (N1, N2):
        assert api("POST", f"clinics/{slug}/numbers/", json={"e164": n}).status_code == 201
    r = api(
        "PUT",
        f"clinics/{slug}/agent/",
        json={"greeting": "Hi, Bright Smile here!", "language": "en-US"},
    )
    assert r.status_code == 200, r.text
    r = api("POST", f"clinics/{slug}/go-live/")
    assert r.status_code == 202, r.text

    live = converged(api, slug)
    state = livekit.state()
    (trunk,) = ours(state["inbound_trunks"], clinic_id)
    (rule,) = ours(state["dispatch_rules"], clinic_id)
    assert sorted(trunk["numbers"]) == [N1, N2]
    assert (live["trunk_id"], live["dispatch_rule_id"]) == (
        trunk["sip_trunk_id"],
        rule["sip_dispatch_rule_id"],
    )
    assert rule["trunk_ids"] == [trunk["sip_trunk_id"]]
    # The room prefix and metadata name the line (decision 0085).
    assert rule["rule"]["dispatch_rule_individual"]["room_prefix"] == f"{live['room_prefix']}_main"
    assert rule["hide_phone_number"] is False  # decision 0031
    (agent,) = rule["room_config"]["agents"]
    first = api("GET", f"clinics/{slug}/receptionists/").json()[0]
    assert json.loads(agent["metadata"]) == {
        "clinic": clinic_id,
        "config_version": 2,
        "line": "main",
        "receptionist": first["id"],
    }
    assert len(state["inbound_trunks"]) == 1 and len(state["dispatch_rules"]) == 1

    # Edit the numbers: the same trunk follows.
    assert api("DELETE", f"clinics/{slug}/numbers/{quote(N1)}/").status_code == 204
    assert api("POST", f"clinics/{slug}/numbers/", json={"e164": N3}).status_code == 201
    converged(api, slug)
    (trunk2,) = ours(livekit.state()["inbound_trunks"], clinic_id)
    assert trunk2["sip_trunk_id"] == trunk["sip_trunk_id"]
    assert sorted(trunk2["numbers"]) == [N2, N3]

    # Offboard: the rule, then the trunk, are gone.
    assert api("POST", f"clinics/{slug}/offboard/").status_code == 202
    wait_until(
        lambda: not livekit.state()["inbound_trunks"] and not livekit.state()["dispatch_rules"],
        timeout=60,
    )
    deletes = [r["method"] for r in livekit.requests() if r["method"].startswith("Delete")]
    assert deletes == ["DeleteSIPDispatchRule", "DeleteSIPTrunk"]


def test_a_taken_number_is_refused_and_nothing_goes_upstream(api, live_server, livekit, worker):
    first = signup(api, live_server, "a@first.example", "First Dental")
    assert (
        api("POST", f"clinics/{first['clinic']['slug']}/numbers/", json={"e164": N1}).status_code
        == 201
    )

    other = Api(live_server.url)
    second = signup(other, live_server, "b@second.example", "Second Dental")
    before = len(livekit.requests())
    r = other(
        "POST", f"clinics/{second['clinic']['slug']}/numbers/", json={"e164": "+1 (415) 555-0111"}
    )

    assert r.status_code == 400
    assert "e164" in r.json() and "another clinic" in " ".join(r.json()["e164"])
    assert other("GET", f"clinics/{second['clinic']['slug']}/numbers/").json() in (
        [],
        {"results": []},
    )
    assert len(livekit.requests()) == before


def test_the_sweeper_provisions_a_change_whose_enqueue_was_lost(api, live_server, livekit, worker):
    body = signup(api, live_server, "c@third.example", "Third Dental")
    slug = body["clinic"]["slug"]
    assert api("POST", f"clinics/{slug}/numbers/", json={"e164": N2}).status_code == 201
    # The broker is "down" for the go-live: the enqueue is lost, the change is saved.
    with mock.patch("telephony.publishing._publish"):
        assert api("POST", f"clinics/{slug}/go-live/").status_code == 202
    assert provisioning(api, slug)["state"] == "pending"
    assert livekit.requests() == []

    assert sweep_provisioning.apply().get() == 1

    converged(api, slug)
    assert len(livekit.state()["inbound_trunks"]) == 1
