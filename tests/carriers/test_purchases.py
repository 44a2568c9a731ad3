"""Searching and buying a number (telephony/number_purchases.py, purchase_runner.py) against
both emulators over HTTP: the confirmation, the intent before the call, one purchase per key
or number, reconciliation after a lost reply, refusals in plain words."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from audit.models import AuditEntry
from telephony import carrier_services as carriers
from telephony import number_purchases as buying
from telephony.models import CarrierAccount, NumberPurchase, PhoneNumber
from telephony.purchase_runner import Outcome, run_purchase, sweep_purchases

from .conftest import NUMBERS, TELNYX_KEY, TELNYX_NUMBERS

pytestmark = pytest.mark.django_db
ON_SALE = "+14155550150"
TELNYX_ON_SALE = "+13125550150"


def connect(clinic, owner, emu, provider="twilio"):
    if provider == "twilio":
        creds = carriers.parse_credentials(
            provider="twilio", account_sid=emu.account_sid, auth_token=emu.auth_token
        )
    else:
        creds = carriers.parse_credentials(provider="telnyx", api_key=TELNYX_KEY)
    return carriers.carrier_connect(clinic=clinic, creds=creds, actor=owner)


def start(clinic, owner, e164=ON_SALE, key="k1", confirm=True):
    return buying.purchase_start(
        clinic=clinic, number=e164, confirm_cost=confirm, idempotency_key=key, actor=owner
    )


def settle(purchase, rounds=5):
    """Run attempts the way the task would (its retries), until the purchase settles."""
    for _ in range(rounds):
        # The task's retry comes later: long after any earlier request could have ended.
        NumberPurchase.objects.filter(pk=purchase.pk, sent_at__isnull=False).update(
            sent_at=timezone.now() - timedelta(minutes=5)
        )
        outcome = run_purchase(purchase.pk)
        if outcome.retry_in is None:
            break
    purchase.refresh_from_db()
    return purchase


def test_search_lists_voice_numbers_on_sale_not_the_accounts(clinic, owner, twilio):
    connect(clinic, owner, twilio)
    found = buying.search_numbers(
        clinic=clinic, search=buying.parse_search(country="us", area_code="415")
    )
    assert len(found) == buying.SEARCH_LIMIT
    assert not {n.e164 for n in found} & set(NUMBERS)
    assert all(n.monthly_cost == "" for n in found)  # Twilio's search has no price
    narrowed = buying.search_numbers(
        clinic=clinic, search=buying.parse_search(country="US", area_code="415", contains="0150")
    )
    assert [n.e164 for n in narrowed] == [ON_SALE]


def test_telnyx_search_carries_its_monthly_price(clinic, owner, telnyx):
    connect(clinic, owner, telnyx, "telnyx")
    found = buying.search_numbers(
        clinic=clinic, search=buying.parse_search(country="US", area_code="312")
    )
    assert found and not {n.e164 for n in found} & set(TELNYX_NUMBERS)
    assert (found[0].monthly_cost, found[0].currency) == ("1.00", "USD")
    words = buying.price_words("Telnyx", "1.00", "USD")
    assert "1.00 USD a month" in words and "charges your Telnyx account" in words
    assert "price list" in buying.price_words("Twilio", "", "")


def kinds_search(clinic, **values):
    found = buying.search_numbers(clinic=clinic, search=buying.parse_search(**values))
    return [n.e164 for n in found]


def test_twilio_toll_free_and_mobile_search_and_buy(clinic, owner, twilio):
    connect(clinic, owner, twilio)
    toll_free = kinds_search(clinic, country="US", number_type="toll_free", area_code="888")
    assert toll_free[:2] == ["+18885550100", "+18885550101"]
    assert kinds_search(clinic, country="US", number_type="TOLL_FREE")[0].startswith("+1800")
    assert kinds_search(clinic, country="GB", number_type="mobile")[0] == "+447700900100"
    assert kinds_search(clinic, country="US", number_type="mobile") == []  # Twilio: 404
    assert kinds_search(clinic, country="US", area_code="888") == []  # local means local
    purchase, _ = start(clinic, owner, e164="+18885550100")
    purchase = settle(purchase)
    assert (purchase.state, purchase.added) == ("bought", True)
    assert PhoneNumber.objects.filter(e164="+18885550100", clinic=clinic).exists()


def test_telnyx_toll_free_and_mobile_search(clinic, owner, telnyx):
    connect(clinic, owner, telnyx, "telnyx")
    toll_free = buying.search_numbers(
        clinic=clinic, search=buying.parse_search(country="US", number_type="toll_free")
    )
    assert toll_free[0].e164 == "+18005550100" and toll_free[0].monthly_cost == "2.00"
    assert kinds_search(clinic, country="GB", number_type="mobile")[:1] == ["+447700900100"]
    assert kinds_search(clinic, country="US", number_type="mobile") == []


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"country": ""}, "country"),
        ({"country": "USA"}, "country"),
        ({"country": "US", "area_code": "4l5"}, "area_code"),
        ({"country": "US", "area_code": "4155550100"}, "area_code"),
        ({"country": "US", "contains": "abc"}, "contains"),
        ({"country": 1}, "country"),
        ({"country": "US", "number_type": "premium"}, "number_type"),
        ({"country": "US", "number_type": ["local"]}, "number_type"),
    ],
)
def test_bad_search_names_the_field(values, field):
    with pytest.raises(ValidationError) as caught:
        buying.parse_search(**values)
    assert list(caught.value.message_dict) == [field]


def test_nothing_without_a_connected_account(clinic, owner):
    with pytest.raises(ValidationError, match="Connect your Twilio or Telnyx account first"):
        buying.search_numbers(clinic=clinic, search=buying.parse_search(country="US"))
    with pytest.raises(ValidationError):
        start(clinic, owner)
    assert not NumberPurchase.objects.exists()


def test_no_purchase_without_the_cost_confirmed(clinic, owner, twilio):
    connect(clinic, owner, twilio)
    for confirm in (False, "true", 1, None):
        with pytest.raises(ValidationError) as caught:
            start(clinic, owner, confirm=confirm)
        assert "confirm_cost" in caught.value.message_dict
    assert not NumberPurchase.objects.exists()
    assert twilio.control.requests("CreateIncomingPhoneNumber") == []


def test_buy_once_then_added_and_answered_by_the_first_receptionist(clinic, owner, twilio):
    connect(clinic, owner, twilio)
    purchase, created = start(clinic, owner)
    assert created and purchase.state == "pending"
    again, created_again = start(clinic, owner)  # the same key: a second click
    other_key, created_other = start(clinic, owner, key="k2")  # the same number
    assert (again.pk, other_key.pk) == (purchase.pk, purchase.pk)
    assert not created_again and not created_other
    purchase = settle(purchase)
    assert (purchase.state, purchase.added) == ("bought", True)
    assert purchase.carrier_id.startswith("PN")
    phone = PhoneNumber.objects.get(e164=ON_SALE)
    assert phone.clinic == clinic and phone.receptionist.slug
    assert run_purchase(purchase.pk).state == "bought"  # a repeat does nothing
    assert len(twilio.control.created_ids("CreateIncomingPhoneNumber")) == 1
    owned = [n["phone_number"] for n in twilio.control.state()["numbers"]]
    assert owned.count(ON_SALE) == 1
    events = set(AuditEntry.objects.filter(clinic_id=clinic.pk).values_list("event", flat=True))
    assert {"carrier.number_purchase", "carrier.number_bought"} <= events


def test_a_key_reused_for_another_number_is_refused(clinic, owner, twilio):
    connect(clinic, owner, twilio)
    start(clinic, owner)
    with pytest.raises(ValidationError) as caught:
        start(clinic, owner, e164="+14155550151")
    assert "idempotency_key" in caught.value.message_dict


@pytest.mark.parametrize("provider", ["twilio", "telnyx"])
def test_a_lost_reply_is_reconciled_and_bought_exactly_once(
    clinic, owner, twilio, telnyx, provider
):
    emu, op, e164 = (
        (twilio, "CreateIncomingPhoneNumber", ON_SALE)
        if provider == "twilio"
        else (telnyx, "CreateNumberOrder", TELNYX_ON_SALE)
    )
    connect(clinic, owner, emu, provider)
    emu.control.add_faults([{"method": op, "action": "commit_then_drop", "count": 1}])
    purchase, _ = start(clinic, owner, e164=e164)
    first = run_purchase(purchase.pk)
    assert first.state == "pending" and first.retry_in is not None
    purchase.refresh_from_db()
    assert purchase.sent_at is not None  # unknown outcome: the next attempt asks first
    purchase = settle(purchase)
    assert (purchase.state, purchase.added, purchase.creates_sent) == ("bought", True, 1)
    assert len(emu.control.requests(op)) == 1
    assert len(emu.control.created_ids(op)) == 1
    assert PhoneNumber.objects.filter(e164=e164, clinic=clinic).count() == 1


def test_telnyx_order_completes_before_the_number_counts(clinic, owner, telnyx):
    connect(clinic, owner, telnyx, "telnyx")
    purchase, _ = start(clinic, owner, e164=TELNYX_ON_SALE)
    first = run_purchase(purchase.pk)
    purchase.refresh_from_db()
    assert first.state == "pending" and purchase.order_id and not purchase.added
    purchase = settle(purchase)
    assert (purchase.state, purchase.added) == ("bought", True)
    [order] = telnyx.control.state()["number_orders"]
    assert order["status"] == "success" and order["customer_reference"].endswith(str(purchase.pk))


def test_429_and_5xx_are_retried_without_a_second_purchase(clinic, owner, twilio):
    connect(clinic, owner, twilio)
    twilio.control.add_faults(
        [
            {
                "method": "CreateIncomingPhoneNumber",
                "action": "status",
                "status": 429,
                "retry_after": 1,
                "count": 1,
            },
            {"method": "CreateIncomingPhoneNumber", "action": "status", "status": 503, "count": 1},
        ]
    )
    purchase, _ = start(clinic, owner)
    outcome = run_purchase(purchase.pk)
    assert outcome.retry_in is not None and outcome.retry_in >= 1
    purchase.refresh_from_db()
    assert "slow down" in purchase.status_message
    purchase = settle(purchase)
    assert purchase.state == "bought"
    assert len(twilio.control.created_ids("CreateIncomingPhoneNumber")) == 1


@pytest.mark.parametrize(
    ("setup", "words"),
    [
        ({"taken": True}, "no longer for sale at Twilio"),
        ({"billing": {"funds": False}}, "run out of funds"),
        ({"billing": {"trial": True}}, "trial account"),
    ],
)
def test_twilio_refusals_in_plain_words(clinic, owner, twilio, setup, words):
    connect(clinic, owner, twilio)
    if "billing" in setup:
        twilio.control.post("billing", setup["billing"])
    purchase, _ = start(clinic, owner)
    if setup.get("taken"):  # another Twilio customer bought it since the search
        twilio.control.add_faults(
            [{"method": "CreateIncomingPhoneNumber", "action": "status", "status": 400,
              "code": 21422, "count": 1}]
        )  # fmt: skip
    purchase = settle(purchase)
    assert purchase.state == "failed" and words in purchase.status_message
    assert not PhoneNumber.objects.filter(e164=ON_SALE).exists()


def test_telnyx_without_funds_is_not_bought(clinic, owner, telnyx):
    connect(clinic, owner, telnyx, "telnyx")
    telnyx.control.post("billing", {"funds": False})
    purchase = settle(start(clinic, owner, e164=TELNYX_ON_SALE)[0])
    assert purchase.state == "failed" and "enough funds" in purchase.status_message
    again, created = start(clinic, owner, e164=TELNYX_ON_SALE, key="k2")
    assert created and again.pk != purchase.pk


def test_revoked_credentials_fail_the_purchase_and_mark_the_account(clinic, owner, twilio):
    connect(clinic, owner, twilio)
    purchase, _ = start(clinic, owner)
    twilio.control.post("credentials", {"auth_token": "a-new-token-elsewhere"})
    purchase = settle(purchase)
    assert purchase.state == "failed" and "Twilio rejected" in purchase.status_message
    assert CarrierAccount.objects.get(clinic=clinic).state == "credentials_rejected"
    with pytest.raises(ValidationError, match="no longer accepts"):
        start(clinic, owner, key="k2")


def test_the_number_limit_counts_purchases_underway(clinic, owner, twilio, monkeypatch):
    connect(clinic, owner, twilio)
    monkeypatch.setattr(buying, "MAX_NUMBERS_PER_CLINIC", 1)
    start(clinic, owner)
    with pytest.raises(ValidationError, match="at most 1 numbers"):
        start(clinic, owner, e164="+14155550151", key="k2")


def test_a_not_found_read_right_after_a_lost_request_is_no_proof(clinic, owner, twilio):
    connect(clinic, owner, twilio)
    twilio.control.add_faults(
        [{"method": "CreateIncomingPhoneNumber", "action": "status", "status": 503, "count": 1}]
    )
    purchase, _ = start(clinic, owner)
    assert run_purchase(purchase.pk).retry_in is not None  # 503: unknown, sent_at kept
    again = run_purchase(purchase.pk)  # at once: the number is not there, but too early
    purchase.refresh_from_db()
    assert again.retry_in is not None and purchase.sent_at is not None
    assert "Checking with the carrier" in purchase.status_message
    assert purchase.creates_sent == 1
    assert settle(purchase).state == "bought"


def test_the_sweeper_publishes_due_pending_purchases_only(clinic, owner, twilio):
    connect(clinic, owner, twilio)
    purchase, _ = start(clinic, owner)
    assert sweep_purchases() == 0  # its own task has a grace period
    NumberPurchase.objects.filter(pk=purchase.pk).update(next_attempt_at=None)
    assert sweep_purchases() == 1
    settle(purchase)
    assert sweep_purchases() == 0


def test_telnyx_number_sold_meanwhile_is_not_bought(clinic, owner, telnyx):
    connect(clinic, owner, telnyx, "telnyx")
    purchase, _ = start(clinic, owner, e164=TELNYX_ON_SALE)
    # Another Telnyx customer ordered it since the search: it is no longer on sale.
    telnyx.control.add_faults(
        [{"method": "CreateNumberOrder", "action": "status", "status": 422, "code": "10015",
          "msg": f"{TELNYX_ON_SALE} is not available for purchase.", "count": 1}]
    )  # fmt: skip
    purchase = settle(purchase)
    assert purchase.state == "failed"
    assert "no longer for sale at Telnyx" in purchase.status_message
    assert not telnyx.control.created_ids("CreateNumberOrder")
    assert not PhoneNumber.objects.filter(e164=TELNYX_ON_SALE).exists()


def test_a_held_purchase_is_left_to_its_holder(clinic, owner, twilio):
    connect(clinic, owner, twilio)
    purchase, _ = start(clinic, owner)
    NumberPurchase.objects.filter(pk=purchase.pk).update(
        lease_until=timezone.now() + timedelta(minutes=1)
    )
    assert run_purchase(purchase.pk) == Outcome("busy")  # no second retry chain
    assert twilio.control.requests("CreateIncomingPhoneNumber") == []
    NumberPurchase.objects.filter(pk=purchase.pk).update(
        lease_until=None, next_attempt_at=timezone.now()
    )
    assert sweep_purchases() == 1  # the sweeper carries on once it is free and due
