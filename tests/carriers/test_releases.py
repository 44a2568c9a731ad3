"""Releasing a number Switchboard bought (telephony/number_releases.py, release_runner.py)
against both emulators over HTTP: the confirmation, own numbers never released, one delete
per release even after a lost reply, refusals visible and retryable, offboarded clinics,
the API and the web page (decision 0165)."""

from __future__ import annotations

from unittest import mock

import pytest
from django.core.exceptions import ValidationError

from audit.models import AuditEntry
from telephony import number_releases as releasing
from telephony.models import CarrierAccount, NumberPurchase, NumberRelease, PhoneNumber
from telephony.release_runner import run_release, sweep_releases
from telephony.services import phone_number_add
from tenants.models import Clinic
from tests.api_helpers import api_as, clinic_url

from .conftest import NUMBERS, TELNYX_NUMBERS
from .test_purchases import ON_SALE, TELNYX_ON_SALE, connect, settle, start

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_broker():
    with (
        mock.patch("telephony.number_releases.publish_release") as publish,
        mock.patch("telephony.number_purchases.publish_purchase"),
    ):
        yield publish


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


def bought(clinic, owner, emu, provider="twilio"):
    connect(clinic, owner, emu, provider)
    e164 = ON_SALE if provider == "twilio" else TELNYX_ON_SALE
    purchase, _ = start(clinic, owner, e164=e164)
    purchase = settle(purchase)
    assert purchase.state == "bought" and PhoneNumber.objects.filter(e164=e164).exists()
    return e164


def owned(emu):
    return {n["phone_number"] for n in emu.control.state()["numbers"]}


def release(clinic, owner, e164, confirm=True):
    return releasing.release_start(clinic=clinic, number=e164, confirm_release=confirm, actor=owner)


@pytest.mark.parametrize("provider", ["twilio", "telnyx"])
def test_release_once_after_confirmation(clinic, owner, twilio, telnyx, provider):
    emu = twilio if provider == "twilio" else telnyx
    op = "DeleteIncomingPhoneNumber" if provider == "twilio" else "DeletePhoneNumber"
    e164 = bought(clinic, owner, emu, provider)
    for confirm in (False, "true", 1, None):
        with pytest.raises(ValidationError) as caught:
            release(clinic, owner, e164, confirm)
        assert "confirm_release" in caught.value.message_dict
    assert PhoneNumber.objects.filter(e164=e164, clinic=clinic).exists()  # nothing changed
    done, created = release(clinic, owner, e164)
    assert created and done.state == "pending"
    assert not PhoneNumber.objects.filter(e164=e164).exists()  # off the clinic at once
    again, created_again = release(clinic, owner, e164)
    assert (again.pk, created_again) == (done.pk, False)
    assert run_release(done.pk).state == "released"
    done.refresh_from_db()
    assert (done.deletes_sent, done.carrier_id != "") == (1, True)
    assert e164 not in owned(emu) and run_release(done.pk).state == "released"
    assert len(emu.control.requests(op)) == 1
    assert release(clinic, owner, e164)[0].pk == done.pk  # released: answered, not redone
    events = set(AuditEntry.objects.filter(clinic_id=clinic.pk).values_list("event", flat=True))
    assert {"carrier.number_release", "carrier.number_released"} <= events
    assert releasing.releasable(clinic).count() == 0
    assert NumberPurchase.objects.get().state == "released"
    # Released, the number may be bought again: a new purchase, released anew.
    again_bought, created = start(clinic, owner, e164=e164, key="k-again")
    assert created and settle(again_bought).state == "bought"
    second, created = release(clinic, owner, e164)
    assert created and second.pk != done.pk and second.purchase_id == again_bought.pk
    assert run_release(second.pk).state == "released" and e164 not in owned(emu)


def test_numbers_the_clinic_brought_are_never_released(clinic, owner, twilio):
    connect(clinic, owner, twilio)
    phone_number_add(clinic=clinic, number=NUMBERS[0])
    with pytest.raises(ValidationError, match="Switchboard did not buy") as caught:
        release(clinic, owner, NUMBERS[0])
    assert list(caught.value.message_dict) == ["e164"]
    with pytest.raises(ValidationError, match="not a number Switchboard bought"):
        release(clinic, owner, "+14155550177")
    with pytest.raises(ValidationError) as caught:
        release(clinic, owner, "call me")
    assert list(caught.value.message_dict) == ["e164"]
    assert PhoneNumber.objects.filter(e164=NUMBERS[0]).exists() and NUMBERS[0] in owned(twilio)
    assert not NumberRelease.objects.exists()


@pytest.mark.parametrize("provider", ["twilio", "telnyx"])
def test_a_lost_reply_releases_exactly_once(clinic, owner, twilio, telnyx, provider):
    emu = twilio if provider == "twilio" else telnyx
    op = "DeleteIncomingPhoneNumber" if provider == "twilio" else "DeletePhoneNumber"
    e164 = bought(clinic, owner, emu, provider)
    before = owned(emu)
    emu.control.add_faults([{"method": op, "action": "commit_then_drop", "count": 1}])
    done, _ = release(clinic, owner, e164)
    first = run_release(done.pk)
    assert first.state == "pending" and first.retry_in is not None
    assert e164 not in owned(emu)  # the carrier did release it; the reply was lost
    assert run_release(done.pk).state == "released"  # its 404 for the same ID: done
    done.refresh_from_db()
    assert done.deletes_sent == 2
    assert owned(emu) == before - {e164}  # nothing else was released
    assert len(emu.control.created_ids(op)) <= 1


def test_429_and_5xx_keep_it_pending_then_release(clinic, owner, twilio):
    e164 = bought(clinic, owner, twilio)
    twilio.control.add_faults(
        [
            {"method": "DeleteIncomingPhoneNumber", "action": "status", "status": 429,
             "retry_after": 3, "count": 1},
            {"method": "DeleteIncomingPhoneNumber", "action": "status", "status": 503,
             "count": 1},
        ]
    )  # fmt: skip
    done, _ = release(clinic, owner, e164)
    first = run_release(done.pk)
    assert first.state == "pending" and first.retry_in >= 3
    assert run_release(done.pk).state == "pending"
    assert sweep_releases() == 0  # not due yet: its own retry carries on
    NumberRelease.objects.filter(pk=done.pk).update(next_attempt_at=None)
    assert sweep_releases() == 1
    assert run_release(done.pk).state == "released" and e164 not in owned(twilio)


def test_a_refusal_is_visible_and_retryable(clinic, owner, telnyx):
    e164 = bought(clinic, owner, telnyx, "telnyx")
    telnyx.control.add_faults(
        [{"method": "DeletePhoneNumber", "action": "status", "status": 422, "code": "10015",
          "msg": "Deletion lock is enabled for this number.", "count": 1}]
    )  # fmt: skip
    done, _ = release(clinic, owner, e164)
    assert run_release(done.pk).state == "failed"
    done.refresh_from_db()
    assert "Telnyx refused to release it" in done.status_message
    assert "Deletion lock" in done.status_message and e164 in owned(telnyx)
    assert releasing.releasable(clinic).count() == 1  # still in the account: still listed
    retried = releasing.release_retry(clinic=clinic, release_id=done.pk, actor=owner)
    assert retried.state == "pending"
    assert run_release(done.pk).state == "released" and e164 not in owned(telnyx)
    events = list(AuditEntry.objects.filter(clinic_id=clinic.pk).values_list("event", flat=True))
    assert "carrier.number_release_failed" in events and events.count("carrier.number_release") == 2


def test_revoked_credentials_fail_it_until_reconnected(clinic, owner, twilio):
    e164 = bought(clinic, owner, twilio)
    done, _ = release(clinic, owner, e164)
    twilio.control.post("credentials", {"auth_token": "rotated"})
    assert run_release(done.pk).state == "failed"
    done.refresh_from_db()
    assert "Connect the account again" in done.status_message
    account = CarrierAccount.objects.get(clinic=clinic)
    assert account.state == CarrierAccount.State.CREDENTIALS_REJECTED
    with pytest.raises(ValidationError, match="no longer accepts"):
        releasing.release_retry(clinic=clinic, release_id=done.pk, actor=owner)
    assert e164 in owned(twilio)


def test_a_number_already_gone_at_the_carrier_is_released(clinic, owner, twilio):
    e164 = bought(clinic, owner, twilio)
    sid = next(n["sid"] for n in twilio.control.state()["numbers"] if n["phone_number"] == e164)
    done, _ = release(clinic, owner, e164)
    twilio.control.post("numbers", {"replace": True, "numbers": [{"phone_number": NUMBERS[0]}]})
    assert run_release(done.pk).state == "released"
    done.refresh_from_db()
    assert done.deletes_sent == 0 and done.carrier_id == "" and sid
    assert "no longer in your Twilio account" in done.status_message


def test_a_live_clinics_last_number_is_not_released(clinic, owner, twilio):
    e164 = bought(clinic, owner, twilio)
    Clinic.objects.filter(pk=clinic.pk).update(state=Clinic.State.LIVE)
    clinic.refresh_from_db()
    with pytest.raises(ValidationError, match="at least one number"):
        release(clinic, owner, e164)
    assert not NumberRelease.objects.exists() and PhoneNumber.objects.filter(e164=e164).exists()


def test_an_offboarded_clinic_lists_its_bought_numbers_and_may_release_them(clinic, owner, twilio):
    e164 = bought(clinic, owner, twilio)
    Clinic.objects.filter(pk=clinic.pk).update(state=Clinic.State.OFFBOARDED)
    clinic.refresh_from_db()
    assert [p.e164 for p in releasing.releasable(clinic)] == [e164]
    done, _ = release(clinic, owner, e164)
    assert run_release(done.pk).state == "released" and e164 not in owned(twilio)


def test_the_api_releases_lists_reads_and_retries(clinic, owner, viewer, telnyx):
    e164 = bought(clinic, owner, telnyx, "telnyx")
    url = clinic_url(clinic, "carrier/releases/")
    api = api_as(owner)
    r = api.post(url, {"e164": e164}, format="json")
    assert r.status_code == 400 and "cannot be recovered" in r.json()["confirm_release"][0]
    r = api.post(url, {"e164": e164, "confirm_release": "yes"}, format="json")
    assert r.status_code == 400 and "confirm_release" in r.json()
    r = api.post(url, {"e164": TELNYX_NUMBERS[0], "confirm_release": True}, format="json")
    assert r.status_code == 400 and "e164" in r.json()
    assert (
        api_as(viewer).post(url, {"e164": e164, "confirm_release": True}, format="json").status_code
        == 403
    )
    r = api.post(url, {"e164": e164, "confirm_release": True}, format="json")
    assert r.status_code == 201 and r.json()["state"] == "pending"
    body = r.json()
    again = api.post(url, {"e164": e164, "confirm_release": True}, format="json")
    assert (again.status_code, again.json()["id"]) == (200, body["id"])
    telnyx.control.add_faults(
        [{"method": "DeletePhoneNumber", "action": "status", "status": 422, "count": 1}]
    )
    run_release(body["id"])
    one = clinic_url(clinic, f"carrier/releases/{body['id']}/")
    assert api_as(viewer).get(one).json()["state"] == "failed"
    r = api.post(one + "retry/")
    assert r.status_code == 200 and r.json()["state"] == "pending"
    run_release(body["id"])
    assert [x["state"] for x in api.get(url).json()] == ["released"]
    assert (
        api.get(
            clinic_url(clinic, "carrier/releases/00000000-0000-0000-0000-000000000000/")
        ).status_code
        == 404
    )


def test_the_web_page_lists_confirms_and_releases(owner_client, clinic, owner, twilio):
    e164 = bought(clinic, owner, twilio)
    page = owner_client.get(f"/clinics/{clinic.slug}/carrier/buy/").content.decode()
    assert "Numbers Switchboard bought" in page and f'data-bought="{e164}"' in page
    url = f"/clinics/{clinic.slug}/carrier/release/"
    page = owner_client.get(url, {"e164": e164}).content.decode()
    assert "goes back to Twilio" in page and "cannot be recovered" in page
    r = owner_client.get(url, {"e164": NUMBERS[0]})  # not bought here: back to the list
    assert r.status_code == 302 and r["Location"].endswith("#bought")
    r = owner_client.post(url, {"e164": e164})  # not ticked
    assert r.status_code == 400 and "Tick the box" in r.content.decode()
    assert not NumberRelease.objects.exists()
    r = owner_client.post(url, {"e164": e164, "confirm_release": "on"})
    assert r.status_code == 302 and r["Location"].endswith("#releases")
    owner_client.post(url, {"e164": e164, "confirm_release": "on"})  # a second click
    assert NumberRelease.objects.count() == 1
    twilio.control.add_faults(
        [{"method": "DeleteIncomingPhoneNumber", "action": "status", "status": 400, "count": 1}]
    )
    done = NumberRelease.objects.get()
    run_release(done.pk)
    page = owner_client.get(f"/clinics/{clinic.slug}/carrier/buy/").content.decode()
    assert "Not released" in page and "Retry" in page
    r = owner_client.post(f"/clinics/{clinic.slug}/carrier/release/{done.pk}/retry/")
    assert r.status_code == 302
    run_release(done.pk)
    page = owner_client.get(f"/clinics/{clinic.slug}/carrier/buy/").content.decode()
    assert "Released" in page and e164 not in owned(twilio)


def test_the_release_pages_are_for_editors(client, clinic, viewer):
    client.force_login(viewer)
    assert client.get(f"/clinics/{clinic.slug}/carrier/release/").status_code == 403
    assert client.post(f"/clinics/{clinic.slug}/carrier/release/", {}).status_code == 403


@pytest.mark.parametrize("release_them", [False, True])
def test_offboarding_lists_bought_numbers_and_releases_only_when_asked(
    owner_client, clinic, owner, twilio, release_them
):
    e164 = bought(clinic, owner, twilio)
    phone_number_add(clinic=clinic, number=NUMBERS[0])  # brought: never released
    url = f"/clinics/{clinic.slug}/offboard/"
    page = owner_client.get(url).content.decode()
    assert 'id="offboard-bought"' in page and "keeps charging" in page
    assert "Also give the numbers Switchboard bought back" in page
    form = {"confirm_name": clinic.name}
    if release_them:
        form["release_bought"] = "on"
    assert owner_client.post(url, form).status_code == 302
    clinic.refresh_from_db()
    assert clinic.state == Clinic.State.OFFBOARDED
    releases = list(NumberRelease.objects.filter(clinic=clinic))
    if not release_them:
        assert releases == [] and e164 in owned(twilio)
        return
    [done] = releases
    assert (done.e164, done.requested_by_id) == (e164, owner.pk)
    assert run_release(done.pk).state == "released"
    assert e164 not in owned(twilio) and NUMBERS[0] in owned(twilio)


def test_the_offboard_api_releases_bought_numbers_when_asked(clinic, owner, telnyx):
    e164 = bought(clinic, owner, telnyx, "telnyx")
    api = api_as(owner)
    url = clinic_url(clinic, "offboard/")
    r = api.post(url, {"release_bought_numbers": 1}, format="json")
    assert r.status_code == 400 and "release_bought_numbers" in r.json()
    clinic.refresh_from_db()
    assert clinic.state != Clinic.State.OFFBOARDED
    r = api.post(url, {"release_bought_numbers": True}, format="json")
    assert r.status_code == 202
    [done] = NumberRelease.objects.filter(clinic=clinic)
    assert run_release(done.pk).state == "released" and e164 not in owned(telnyx)


def test_the_offboard_page_without_bought_numbers_has_no_choice(owner_client, clinic):
    page = owner_client.get(f"/clinics/{clinic.slug}/offboard/").content.decode()
    assert "offboard-bought" not in page and "release_bought" not in page
