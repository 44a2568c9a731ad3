"""Buying a number end to end (issue 14): a real celery worker, PostgreSQL, Redis, the LiveKit
emulator and both carrier emulators over HTTP. A clinic connects its account, searches,
buys with the cost confirmed, goes live: the bought number is attached at the carrier and in
LiveKit's trunk, and a simulated call to it reaches the clinic's room; offboarding with
release_bought_numbers releases it, once. Then the purchase's
fault rows: a lost reply, 429, a 5xx window and a pool child killed mid-purchase, each with
exactly one number bought (dup 0) and the purchase settled (stuck 0).
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from typing import Any

import pytest

from telephony import number_purchases as buying
from telephony.models import NumberPurchase, NumberRelease, PhoneNumber
from telephony.purchase_runner import sweep_purchases
from telephony.release_runner import sweep_releases
from tests.e2e.conftest import (
    TELNYX_KEY,
    Api,
    carrier_env,
    wait_until,
    worker_on_own_queue,
)
from tests.e2e.figures import record
from tests.e2e.test_carrier_faults import connect
from tests.e2e.test_carrier_golive import CALLER
from tests.e2e.test_faults import _children
from tests.e2e.test_golive import converged, ours, signup
from tests.factories import UserFactory, make_clinic

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
WANTED = {"twilio": "+14155550150", "telnyx": "+13125550150"}
CREATE = {"twilio": "CreateIncomingPhoneNumber", "telnyx": "CreateNumberOrder"}


@pytest.fixture
def buy_worker(transactional_db: None, emulator: Any, livekit: Any, carriers: Any) -> Iterator[Any]:
    """The carrier worker, with a short purchase lease (a killed attempt frees it soon)."""
    env = {**carrier_env(carriers), "PURCHASE_LEASE_SECONDS": "8"}
    with worker_on_own_queue(emulator.url, "buy", env) as w:
        yield w


def bought(purchase_id: str, timeout: float = 90) -> NumberPurchase:
    """Wait for the purchase to settle; the sweeper (beat's job) is run here between reads,
    as beat would, so a purchase whose task message was lost is published again."""

    def done() -> NumberPurchase | None:
        sweep_purchases()
        row = NumberPurchase.objects.get(pk=purchase_id)
        return row if row.state != "pending" else None

    return wait_until(done, timeout=timeout, interval=0.2)


def owned(emu: Any, e164: str) -> int:
    return [n["phone_number"] for n in emu.control.state()["numbers"]].count(e164)


@pytest.mark.parametrize("provider", ["twilio", "telnyx"])
def test_search_buy_go_live_and_call(
    api: Api, live_server, livekit, carriers, buy_worker, provider
):
    twilio, telnyx = carriers
    emu = twilio if provider == "twilio" else telnyx
    body = signup(api, live_server, f"owner@buy-{provider}.example", f"Buy {provider}")
    slug, clinic_id = body["clinic"]["slug"], body["clinic"]["id"]
    creds = (
        {"provider": "twilio", "account_sid": twilio.account_sid, "auth_token": twilio.auth_token}
        if provider == "twilio"
        else {"provider": "telnyx", "api_key": TELNYX_KEY}
    )
    assert api("PUT", f"clinics/{slug}/carrier/", json=creds).status_code == 200
    area = WANTED[provider][2:5]
    r = api("GET", f"clinics/{slug}/carrier/available-numbers/?country=US&area_code={area}"
            "&contains=0150")  # fmt: skip
    assert r.status_code == 200, r.text
    assert [n["e164"] for n in r.json()] == [WANTED[provider]]
    buy = {"e164": WANTED[provider], "confirm_cost": True}
    r = api("POST", f"clinics/{slug}/carrier/purchases/", json=buy,
            headers={"Idempotency-Key": "e2e-1"})  # fmt: skip
    assert r.status_code == 201, r.text
    again = api("POST", f"clinics/{slug}/carrier/purchases/", json=buy,
                headers={"Idempotency-Key": "e2e-1"})  # fmt: skip
    assert again.status_code == 200 and again.json()["id"] == r.json()["id"]
    purchase = bought(r.json()["id"])
    assert (purchase.state, purchase.added) == ("bought", True), purchase.status_message
    numbers = api("GET", f"clinics/{slug}/numbers/").json()
    assert [n["e164"] for n in numbers] == [WANTED[provider]]

    r = api("PUT", f"clinics/{slug}/agent/", json={"greeting": "Hi!", "language": "en-US"})
    assert r.status_code == 200, r.text
    assert api("POST", f"clinics/{slug}/go-live/").status_code == 202
    live = converged(api, slug)
    (trunk,) = ours(livekit.state()["inbound_trunks"], clinic_id)
    assert trunk["numbers"] == [WANTED[provider]]
    state = emu.control.state()
    holders = state["trunks"] if provider == "twilio" else state["fqdn_connections"]
    (holder,) = holders
    assert holder["phone_numbers"] == [WANTED[provider]]
    result = livekit.call(CALLER, WANTED[provider])
    assert result["result"] == "dispatch", result
    assert result["room_name"].startswith(f"{live['room_prefix']}_")
    (agent,) = result["agents"]
    assert json.loads(agent["metadata"])["clinic"] == clinic_id
    assert owned(emu, WANTED[provider]) == 1
    assert len(emu.control.created_ids(CREATE[provider])) == 1
    release_after_offboarding(api, slug, livekit, emu, provider)


def release_after_offboarding(api: Api, slug: str, livekit: Any, emu: Any, provider: str) -> None:
    """The owner offboards and asks for the bought numbers to be released (decision 0165):
    the worker removes the trunk and releases the number, once."""
    holders = "trunks" if provider == "twilio" else "fqdn_connections"
    body = {"release_bought_numbers": "yes"}
    r = api("POST", f"clinics/{slug}/offboard/", json=body)
    assert r.status_code == 400 and "release_bought_numbers" in r.json()
    r = api("POST", f"clinics/{slug}/offboard/", json={"release_bought_numbers": True})
    assert r.status_code == 202, r.text

    def released() -> NumberRelease | None:
        sweep_releases()
        row = NumberRelease.objects.filter(e164=WANTED[provider]).first()
        return row if row is not None and row.state != "pending" else None

    release = wait_until(released, timeout=60, interval=0.2)
    assert release.state == "released", release.status_message
    wait_until(lambda: not emu.control.state()[holders] and not livekit.state()["inbound_trunks"],
               timeout=60)  # fmt: skip
    assert owned(emu, WANTED[provider]) == 0 and release.deletes_sent == 1


def start(carriers: Any, provider: str, faults: list[dict[str, Any]]) -> tuple[Any, str]:
    emu = carriers[0] if provider == "twilio" else carriers[1]
    owner = UserFactory()
    clinic = make_clinic(owner, f"Buy faults {provider}")
    connect(clinic, owner, emu, provider)
    emu.control.add_faults(faults)
    purchase, created = buying.purchase_start(
        clinic=clinic, number=WANTED[provider], confirm_cost=True, idempotency_key="f1",
        actor=owner,
    )  # fmt: skip
    assert created
    return emu, str(purchase.pk)


def check(name: str, emu: Any, provider: str, purchase_id: str, **extra: Any) -> dict[str, Any]:
    row = bought(purchase_id)
    figures = {
        "state": row.state,
        "creates_sent": row.creates_sent,
        "attempts": row.attempts,
        "carrier_creates_committed": len(emu.control.created_ids(CREATE[provider])),
        "dup": owned(emu, WANTED[provider]) - 1,
        "stuck": int(row.state == "pending"),
        "clinic_numbers": PhoneNumber.objects.filter(e164=WANTED[provider]).count(),
        **extra,
    }
    record(f"carrier_buy_{name}", figures)
    assert (row.state, row.added) == ("bought", True), row.status_message
    assert (figures["dup"], figures["stuck"], figures["clinic_numbers"]) == (0, 0, 1), figures
    assert figures["carrier_creates_committed"] == 1, figures
    return figures


@pytest.mark.parametrize("provider", ["twilio", "telnyx"])
def test_a_lost_purchase_reply_buys_exactly_one(livekit, carriers, buy_worker, provider):
    rule = {"method": CREATE[provider], "action": "commit_then_drop", "count": 1}
    emu, purchase_id = start(carriers, provider, [rule])
    figures = check(f"lost_reply_{provider}", emu, provider, purchase_id)
    assert figures["creates_sent"] == 1  # reconciled: never asked twice


@pytest.mark.parametrize("retry_after", [1, None], ids=["retry-after", "no-retry-after"])
def test_429_on_purchase_is_retried(livekit, carriers, buy_worker, retry_after):
    rule: dict[str, Any] = {"method": CREATE["twilio"], "action": "status", "status": 429}
    rule["count"] = 2
    if retry_after:
        rule["retry_after"] = retry_after
    emu, purchase_id = start(carriers, "twilio", [rule])
    name = f"429_{'retry_after' if retry_after else 'plain'}"
    check(name, emu, "twilio", purchase_id)
    refused = [r for r in emu.control.requests(CREATE["twilio"]) if r["status"] == 429]
    assert len(refused) == 2


def test_a_5xx_window_on_purchase(livekit, carriers, buy_worker):
    window = {"method": "*", "action": "status", "status": 503, "duration_s": 2}
    emu, purchase_id = start(carriers, "telnyx", [{**window, "window_from": "first_match"}])
    check("5xx_window", emu, "telnyx", purchase_id)


def test_a_pool_child_killed_mid_purchase_buys_once(livekit, carriers, buy_worker):
    rule = {"method": CREATE["twilio"], "action": "latency", "latency_ms": 1500, "count": 1}
    emu, purchase_id = start(carriers, "twilio", [rule])
    in_flight = wait_until(
        lambda: [r for r in emu.control.requests(CREATE["twilio"]) if r["code"] is None]
    )
    assert in_flight
    children = _children(buy_worker.pid)
    assert children, "the worker has no pool child"
    for child in children:
        os.kill(child, signal.SIGKILL)
    check("pool_child_kill_mid_purchase", emu, "twilio", purchase_id, killed=len(children))
