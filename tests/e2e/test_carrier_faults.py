"""The carrier's fault rows (issue 14), in `make test`: lost replies, 429 with and without
Retry-After, a 5xx window, a pool child killed mid-attach, a number attached elsewhere,
credentials revoked. Real parts: PostgreSQL, Redis, a `celery worker` subprocess, the LiveKit
and carrier emulators over HTTP; faults through the emulators' control planes and by killing
processes by PID. Figures come from the carrier's own state (dup, stuck, orphans).
"""

from __future__ import annotations

import os
import signal
from collections import Counter
from typing import Any

import pytest
from django.db.models import F

from telephony import carrier_services as carriers_api
from telephony import services
from telephony.carriers import markers
from telephony.models import CarrierAccount, Provisioning
from tests.e2e.conftest import TELNYX_KEY, TELNYX_NUMBERS, TWILIO_NUMBERS, wait_until
from tests.e2e.figures import record
from tests.e2e.test_faults import _children, settled
from tests.factories import UserFactory, make_clinic

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def connect(clinic: Any, owner: Any, emu: Any, provider: str) -> None:
    if provider == "twilio":
        creds = carriers_api.parse_credentials(
            provider="twilio", account_sid=emu.account_sid, auth_token=emu.auth_token
        )
    else:
        creds = carriers_api.parse_credentials(provider="telnyx", api_key=TELNYX_KEY)
    carriers_api.carrier_connect(clinic=clinic, creds=creds, actor=owner)


def go_live(
    carriers: Any,
    provider: str = "twilio",
    faults: tuple[dict[str, Any], ...] = (),
    after_connect: Any = None,
) -> str:
    """Connect the account (its check is not faulted), run `after_connect` (a change at the
    carrier the account's last read does not know), install `faults`, then go live."""
    twilio, telnyx = carriers
    emu, numbers = (twilio, TWILIO_NUMBERS) if provider == "twilio" else (telnyx, TELNYX_NUMBERS)
    owner = UserFactory()
    clinic = make_clinic(owner, f"Carrier {provider}")
    connect(clinic, owner, emu, provider)
    if after_connect is not None:
        after_connect()
    if faults:
        emu.control.add_faults(list(faults))
    for number in numbers[:2]:
        services.phone_number_add(clinic=clinic, number=number)
    services.clinic_go_live(clinic=clinic, actor=owner)
    return str(clinic.pk)


def carrier_objects(emu: Any) -> list[dict[str, Any]]:
    state = emu.control.state()
    if "trunks" in state:
        return [
            {
                "id": t["sid"],
                "name": t["friendly_name"],
                "numbers": t["phone_numbers"],
                "originations": len(t["origination_urls"]),
            }
            for t in state["trunks"]
        ]
    return [
        {
            "id": c["id"],
            "name": c["connection_name"],
            "numbers": c["phone_numbers"],
            "originations": len(c["fqdns"]),
        }
        for c in state["fqdn_connections"]
    ]


def assess_carrier(emu: Any, clinic_ids: list[str]) -> dict[str, Any]:
    """dup: more than one trunk of ours per clinic, or more than one origination on one;
    orphans: a trunk of ours that no clinic records; stuck: not converged."""
    objects = carrier_objects(emu)
    owners = Counter(markers.owner_of(o["name"]) for o in objects)
    claimed = set(
        Provisioning.objects.filter(clinic_id__in=clinic_ids).values_list(
            "carrier_trunk_id", flat=True
        )
    )
    ours = [o for o in objects if markers.owner_of(o["name"])]
    return {
        "clinics": len(clinic_ids),
        "dup": sum(max(0, owners[c] - 1) for c in clinic_ids)
        + sum(max(0, o["originations"] - 1) for o in ours),
        "orphans": sum(1 for o in ours if o["id"] not in claimed),
        "stuck": Provisioning.objects.filter(
            clinic_id__in=clinic_ids, observed_generation__lt=F("generation")
        ).count(),
        "carrier_requests": len(emu.control.requests()),
    }


def attached(emu: Any, clinic_id: str) -> list[str]:
    (mine,) = [o for o in carrier_objects(emu) if markers.owner_of(o["name"]) == clinic_id]
    return sorted(mine["numbers"])


def check(name: str, emu: Any, clinic_id: str, **extra: Any) -> dict[str, Any]:
    figures = {**assess_carrier(emu, [clinic_id]), **extra}
    record(f"carrier_{name}", figures)
    assert (figures["dup"], figures["stuck"], figures["orphans"]) == (0, 0, 0), figures
    return figures


@pytest.mark.parametrize("provider", ["twilio", "telnyx"])
def test_lost_replies_are_adopted_never_duplicated(livekit, carriers, carrier_worker, provider):
    emu = carriers[0] if provider == "twilio" else carriers[1]
    methods = (
        ("CreateTrunk", "CreateOriginationUrl", "AttachPhoneNumber")
        if provider == "twilio"
        else ("CreateFqdnConnection", "CreateFqdn", "UpdatePhoneNumber")
    )
    emu.control.add_faults(
        [{"method": m, "action": "commit_then_drop", "count": 1} for m in methods]
    )
    clinic = go_live(carriers, provider)
    settled([clinic], timeout=90)
    check(f"lost_replies_{provider}", emu, clinic)
    assert attached(emu, clinic) == sorted(
        (TWILIO_NUMBERS if provider == "twilio" else TELNYX_NUMBERS)[:2]
    )


@pytest.mark.parametrize("retry_after", [1, None], ids=["retry-after", "no-retry-after"])
def test_429_is_retried_with_backoff(livekit, carriers, carrier_worker, retry_after):
    twilio, _ = carriers
    rule: dict[str, Any] = {
        "method": "AttachPhoneNumber",
        "action": "status",
        "status": 429,
        "count": 2,
    }
    if retry_after:
        rule["retry_after"] = retry_after
    twilio.control.add_faults([rule])
    clinic = go_live(carriers)
    settled([clinic], timeout=90)
    refused = [r for r in twilio.control.requests("AttachPhoneNumber") if r["status"] == 429]
    check(f"429_{'retry_after' if retry_after else 'plain'}", twilio, clinic, refused=len(refused))
    assert len(refused) == 2
    assert attached(twilio, clinic) == TWILIO_NUMBERS[:2]


def test_a_5xx_window_converges(livekit, carriers, carrier_worker):
    twilio, _ = carriers
    window = {"method": "*", "action": "status", "status": 503, "duration_s": 2}
    clinic = go_live(carriers, faults=({**window, "window_from": "first_match"},))
    settled([clinic], timeout=90)
    check("5xx_window", twilio, clinic)
    assert attached(twilio, clinic) == TWILIO_NUMBERS[:2]


def test_a_pool_child_killed_mid_attach_converges_once(livekit, carriers, carrier_worker):
    twilio, _ = carriers
    twilio.control.add_faults(
        [{"method": "AttachPhoneNumber", "action": "latency", "latency_ms": 1500, "count": 1}]
    )
    clinic = go_live(carriers)
    in_flight = wait_until(
        lambda: [r for r in twilio.control.requests("AttachPhoneNumber") if r["code"] is None]
    )
    assert in_flight
    children = _children(carrier_worker.pid)
    assert children, "the worker has no pool child"
    for child in children:
        os.kill(child, signal.SIGKILL)
    settled([clinic], timeout=90)
    figures = check("pool_child_kill_mid_attach", twilio, clinic, killed_children=len(children))
    assert len(twilio.control.created_ids("CreateTrunk")) == 1, figures
    assert attached(twilio, clinic) == TWILIO_NUMBERS[:2]


def test_a_number_attached_elsewhere_is_reported_not_taken(livekit, carriers, carrier_worker):
    twilio, _ = carriers
    import requests

    auth = (twilio.account_sid, twilio.auth_token)
    theirs = requests.post(
        f"{twilio.url}/v1/Trunks", data={"FriendlyName": "front desk"}, auth=auth, timeout=5
    ).json()
    sid = {n["phone_number"]: n["sid"] for n in twilio.control.state()["numbers"]}

    def attach_elsewhere() -> None:
        # After the account was read: adding the number is not refused (a number known to
        # be elsewhere is, tests/carriers/test_bad_input_carrier.py); the engine finds it.
        requests.post(
            f"{twilio.url}/v1/Trunks/{theirs['sid']}/PhoneNumbers",
            data={"PhoneNumberSid": sid[TWILIO_NUMBERS[1]]},
            auth=auth,
            timeout=5,
        ).raise_for_status()

    clinic = go_live(carriers, after_connect=attach_elsewhere)
    prov = wait_until(
        lambda: Provisioning.objects.filter(clinic_id=clinic, state="failed").first(), timeout=60
    )
    assert prov.last_error_code == "carrier_conflict"
    assert TWILIO_NUMBERS[1] in prov.last_error and "does not take it over" in prov.last_error
    front = [t for t in twilio.control.state()["trunks"] if t["sid"] == theirs["sid"]]
    assert front[0]["phone_numbers"] == [TWILIO_NUMBERS[1]]  # untouched
    # The admin removes that number here (the page said how): the rest goes live, and the
    # trunk the failed run made is adopted, not made again.
    from tenants.models import Clinic

    services.phone_number_remove(clinic=Clinic.objects.get(pk=clinic), e164=TWILIO_NUMBERS[1])
    settled([clinic], timeout=90)
    check("number_elsewhere", twilio, clinic)
    assert attached(twilio, clinic) == [TWILIO_NUMBERS[0]]
    assert len(twilio.control.created_ids("CreateTrunk")) == 2  # theirs and ours
    front = [t for t in twilio.control.state()["trunks"] if t["sid"] == theirs["sid"]]
    assert front[0]["phone_numbers"] == [TWILIO_NUMBERS[1]]


def test_revoked_credentials_stop_requests_until_fixed(livekit, carriers, carrier_worker):
    twilio, _ = carriers
    clinic = go_live(carriers)
    settled([clinic], timeout=90)
    twilio.control.post("credentials", {"auth_token": "rotated-" + "t" * 24})
    # A change that the carrier must follow: the new number cannot be attached.
    owner = UserFactory()
    from tenants.models import Clinic

    row = Clinic.objects.get(pk=clinic)
    services.phone_number_add(clinic=row, number=TWILIO_NUMBERS[2])
    prov = wait_until(
        lambda: Provisioning.objects.filter(clinic_id=clinic, state="failed").first(), timeout=60
    )
    assert prov.last_error_code == "carrier_credentials"
    account = CarrierAccount.objects.get(clinic_id=clinic)
    assert account.state == "credentials_rejected"
    before = len(twilio.control.requests())
    services.provisioning_retry(clinic=row)
    wait_until(
        lambda: Provisioning.objects.filter(
            clinic_id=clinic, state="failed", last_error_code="carrier_circuit_open"
        ).exists(),
        timeout=60,
    )
    assert len(twilio.control.requests()) == before  # nothing sent while rejected

    creds = carriers_api.parse_credentials(
        provider="twilio", account_sid=twilio.account_sid, auth_token="rotated-" + "t" * 24
    )
    carriers_api.carrier_connect(clinic=row, creds=creds, actor=owner)
    settled([clinic], timeout=90)
    check("credentials_revoked", twilio, clinic)
    assert attached(twilio, clinic) == TWILIO_NUMBERS
