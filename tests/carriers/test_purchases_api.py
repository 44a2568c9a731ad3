"""Buying a number through the API and the web page (the emulators over HTTP; the purchase
task's work is run in-process here, with a real worker in tests/e2e/test_carrier_buy.py)."""

from __future__ import annotations

from unittest import mock

import pytest

from telephony.models import NumberPurchase, PhoneNumber
from telephony.purchase_runner import run_purchase
from tests.api_helpers import api_as, clinic_url

from .test_purchases import ON_SALE, TELNYX_ON_SALE, connect

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_broker():
    with mock.patch("telephony.number_purchases.publish_purchase") as publish:
        yield publish


def buy(api, clinic, body=None, key=None):
    extra = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    body = body if body is not None else {"e164": ON_SALE, "confirm_cost": True}
    return api.post(clinic_url(clinic, "carrier/purchases/"), body, format="json", **extra)


def test_search_buy_and_read_the_purchase(clinic, owner, twilio, no_broker):
    connect(clinic, owner, twilio)
    api = api_as(owner)
    r = api.get(clinic_url(clinic, "carrier/available-numbers/?country=US&area_code=415"))
    assert r.status_code == 200 and len(r.json()) == 20
    assert r.json()[0].keys() == {"e164", "locality", "region", "monthly_cost", "currency"}
    r = buy(api, clinic, key="click-1")
    assert r.status_code == 201, r.json()
    body = r.json()
    assert (body["state"], body["e164"], body["idempotency_key"]) == ("pending", ON_SALE, "click-1")
    assert no_broker.call_count == 1
    assert buy(api, clinic, key="click-1").json()["id"] == body["id"]  # 200, same purchase
    assert buy(api, clinic, key="click-1").status_code == 200
    assert buy(api, clinic).json()["id"] == body["id"]  # no key: found by the number
    run_purchase(body["id"])
    r = api.get(clinic_url(clinic, f"carrier/purchases/{body['id']}/"))
    assert (r.json()["state"], r.json()["added"]) == ("bought", True)
    assert r.json()["carrier_id"].startswith("PN")
    assert [p["id"] for p in api.get(clinic_url(clinic, "carrier/purchases/")).json()] == [
        body["id"]
    ]
    numbers = api.get(clinic_url(clinic, "numbers/")).json()
    assert [n["e164"] for n in numbers] == [ON_SALE]
    assert len(twilio.control.created_ids("CreateIncomingPhoneNumber")) == 1


def test_refusals_are_400s_naming_the_field(clinic, owner, twilio):
    api = api_as(owner)
    r = api.get(clinic_url(clinic, "carrier/available-numbers/?country=US"))
    assert r.status_code == 400 and "Connect your Twilio or Telnyx account" in str(r.json())
    connect(clinic, owner, twilio)
    r = api.get(clinic_url(clinic, "carrier/available-numbers/?country=USA"))
    assert r.status_code == 400 and "country" in r.json()
    r = api.get(clinic_url(clinic, "carrier/available-numbers/"))
    assert r.status_code == 400 and "country" in r.json()
    r = buy(api, clinic, {"e164": ON_SALE})
    assert r.status_code == 400 and "costs money" in r.json()["confirm_cost"][0]
    r = buy(api, clinic, {"e164": ON_SALE, "confirm_cost": "yes"})
    assert r.status_code == 400 and "confirm_cost" in r.json()
    r = buy(api, clinic, {"e164": "call me", "confirm_cost": True})
    assert r.status_code == 400 and "e164" in r.json()
    r = buy(api, clinic, {"e164": ON_SALE, "confirm_cost": True, "price": "0"})
    assert r.status_code == 400 and "price" in r.json()
    r = buy(api, clinic, key="has spaces in it")
    assert r.status_code == 400 and "idempotency_key" in r.json()
    assert not NumberPurchase.objects.exists()
    missing = api.get(clinic_url(clinic, "carrier/purchases/00000000-0000-0000-0000-000000000000/"))
    assert missing.status_code == 404


def test_viewer_reads_purchases_but_neither_searches_nor_buys(clinic, owner, viewer, telnyx):
    connect(clinic, owner, telnyx, "telnyx")
    api = api_as(viewer)
    assert api.get(clinic_url(clinic, "carrier/purchases/")).status_code == 200
    r = api.get(clinic_url(clinic, "carrier/available-numbers/?country=US"))
    assert r.status_code == 403
    assert buy(api, clinic, {"e164": TELNYX_ON_SALE, "confirm_cost": True}).status_code == 403
    assert telnyx.control.requests("ListAvailablePhoneNumbers") == []
    assert not NumberPurchase.objects.exists()


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


def test_the_web_page_searches_confirms_the_cost_and_buys_once(owner_client, clinic, owner, telnyx):
    connect(clinic, owner, telnyx, "telnyx")
    url = f"/clinics/{clinic.slug}/carrier/buy/"
    page = owner_client.get(url).content.decode()
    assert "Nothing is bought until you confirm" in page
    page = owner_client.get(url, {"country": "US", "area_code": "312", "contains": "0150"})
    page = page.content.decode()
    assert TELNYX_ON_SALE in page and "1.00 USD a month" in page
    page = owner_client.get(
        url, {"e164": TELNYX_ON_SALE, "monthly_cost": "1.00", "currency": "USD"}
    ).content.decode()
    assert "Telnyx charges your Telnyx account for this number every month (1.00 USD" in page
    form = {"e164": TELNYX_ON_SALE, "key": "web-key-1", "monthly_cost": "1.00", "currency": "USD"}
    r = owner_client.post(url, form)  # not ticked
    assert r.status_code == 400 and "Tick the box" in r.content.decode()
    assert not NumberPurchase.objects.exists()
    r = owner_client.post(url, {**form, "confirm_cost": "on"})
    assert r.status_code == 302
    r = owner_client.post(url, {**form, "confirm_cost": "on"})  # a second click
    assert NumberPurchase.objects.count() == 1
    purchase = NumberPurchase.objects.get()
    assert (purchase.monthly_cost, purchase.currency) == ("1.00", "USD")
    for _ in range(3):
        run_purchase(purchase.pk)
    page = owner_client.get(url).content.decode()
    assert "Bought" in page and PhoneNumber.objects.filter(e164=TELNYX_ON_SALE).exists()


def test_search_by_kind_of_number_api_and_page(owner_client, clinic, owner, twilio):
    connect(clinic, owner, twilio)
    api = api_as(owner)
    r = api.get(clinic_url(clinic, "carrier/available-numbers/?country=US&number_type=toll_free"))
    assert r.status_code == 200 and r.json()[0]["e164"] == "+18005550100"
    r = api.get(clinic_url(clinic, "carrier/available-numbers/?country=US&number_type=vanity"))
    assert r.status_code == 400 and "number_type" in r.json()
    url = f"/clinics/{clinic.slug}/carrier/buy/"
    page = owner_client.get(url).content.decode()
    assert "Kind of number" in page and "Toll-free" in page
    page = owner_client.get(url, {"country": "GB", "number_type": "mobile", "area_code": ""})
    assert "+447700900100" in page.content.decode() or "7700 900100" in page.content.decode()


def test_the_web_page_says_to_connect_first_and_is_for_editors(client, clinic, viewer):
    client.force_login(viewer)
    assert client.get(f"/clinics/{clinic.slug}/carrier/buy/").status_code == 403
