"""The Twilio emulator driven by Twilio's own Python library (``twilio``), unchanged: only its
HTTP client is told to send *.twilio.com requests to the emulator."""

from __future__ import annotations

import json

import pytest
import requests
from twilio.base.exceptions import TwilioException, TwilioRestException

from .conftest import KEY_SECRET, KEY_SID, NUMBERS, RESTRICTED_SID, twilio_client

DOMAIN = "sb-clinic-1234.pstn.twilio.com"


def page_error(caught):
    """A list call that fails raises the SDK's plain TwilioException("Unable to fetch page",
    response): the status and Twilio's code come from the response it carries."""
    response = caught.value.args[1]
    return response.status_code, json.loads(response.text)["code"]


def numbers_by_e164(tw):
    return {n.phone_number: n for n in tw.incoming_phone_numbers.list()}


def test_account_fetch_with_the_auth_token_and_with_an_api_key(twilio_emu, tw):
    assert tw.api.v2010.accounts(twilio_emu.account_sid).fetch().status == "active"
    keyed = twilio_client(twilio_emu, KEY_SID, KEY_SECRET)
    assert keyed.api.v2010.accounts(twilio_emu.account_sid).fetch().sid == twilio_emu.account_sid


def test_wrong_credentials_are_20003_with_401(twilio_emu):
    bad = twilio_client(twilio_emu, twilio_emu.account_sid, "not-the-token")
    with pytest.raises(TwilioRestException) as caught:
        bad.api.v2010.accounts(twilio_emu.account_sid).fetch()
    assert (caught.value.status, caught.value.code) == (401, 20003)
    with pytest.raises(TwilioException) as caught:
        bad.trunking.v1.trunks.list()
    assert page_error(caught) == (401, 20003)


def test_another_accounts_path_is_refused(twilio_emu, tw):
    other = "AC" + "f" * 32
    with pytest.raises(TwilioException) as caught:
        tw.api.v2010.accounts(other).incoming_phone_numbers.list()
    assert page_error(caught) == (401, 20003)


def test_a_restricted_key_reads_numbers_but_not_trunks(twilio_emu):
    restricted = twilio_client(twilio_emu, RESTRICTED_SID, KEY_SECRET)
    assert len(restricted.incoming_phone_numbers.list()) == len(NUMBERS)
    with pytest.raises(TwilioException) as caught:
        restricted.trunking.v1.trunks.list(limit=1)
    assert page_error(caught) == (403, 70051)


def test_revoked_token_stops_working(twilio_emu, tw):
    twilio_emu.control.post("credentials", {"auth_token": "rotated"})
    with pytest.raises(TwilioException) as caught:
        tw.incoming_phone_numbers.list()
    assert page_error(caught) == (401, 20003)
    assert twilio_client(twilio_emu, password="rotated").incoming_phone_numbers.list()


def test_incoming_numbers_page_through_next_page_uri(twilio_emu, tw):
    listed = tw.incoming_phone_numbers.list(page_size=2)
    assert [n.phone_number for n in listed] == NUMBERS
    page = tw.incoming_phone_numbers.page(page_size=2)
    assert page.next_page_url.startswith("https://api.twilio.com/2010-04-01/Accounts/")
    assert len(list(page)) == 2
    assert [n.phone_number for n in page.next_page()] == NUMBERS[2:]
    only = tw.incoming_phone_numbers.list(phone_number="+14155550101")
    assert [n.phone_number for n in only] == ["+14155550101"]
    first = only[0]
    assert first.capabilities["voice"] is True and first.trunk_sid is None
    assert first.sid.startswith("PN") and len(first.sid) == 34


def test_trunk_lifecycle_and_domain_names(twilio_emu, tw):
    trunk = tw.trunking.v1.trunks.create(friendly_name="switchboard clinic", domain_name=DOMAIN)
    assert trunk.sid.startswith("TK") and trunk.domain_name == DOMAIN
    assert tw.trunking.v1.trunks(trunk.sid).fetch().friendly_name == "switchboard clinic"
    with pytest.raises(TwilioRestException) as caught:
        tw.trunking.v1.trunks.create(friendly_name="again", domain_name=DOMAIN)
    assert (caught.value.status, caught.value.code) == (400, 21248)
    updated = tw.trunking.v1.trunks(trunk.sid).update(friendly_name="renamed")
    assert updated.friendly_name == "renamed"
    assert tw.trunking.v1.trunks(trunk.sid).delete() is True
    with pytest.raises(TwilioRestException) as caught:
        tw.trunking.v1.trunks(trunk.sid).fetch()
    assert (caught.value.status, caught.value.code) == (404, 20404)
    with pytest.raises(TwilioRestException) as caught:  # still reserved after deletion
        tw.trunking.v1.trunks.create(domain_name=DOMAIN)
    assert caught.value.code == 21248
    assert DOMAIN in twilio_emu.control.state()["reserved_domains"]


def test_domain_names_taken_elsewhere_and_malformed(twilio_emu, tw):
    twilio_emu.control.post("domains", {"taken": ["someone-else.pstn.twilio.com"]})
    with pytest.raises(TwilioRestException) as caught:
        tw.trunking.v1.trunks.create(domain_name="someone-else.pstn.twilio.com")
    assert caught.value.code == 21248
    with pytest.raises(TwilioRestException) as caught:
        tw.trunking.v1.trunks.create(domain_name="clinic.example.com")
    assert (caught.value.status, caught.value.code) == (400, 20001)


def test_trunks_page_through_meta_next_page_url(tw):
    sids = [tw.trunking.v1.trunks.create(friendly_name=f"t{i}").sid for i in range(3)]
    assert [t.sid for t in tw.trunking.v1.trunks.list(page_size=2)] == sids
    first = tw.trunking.v1.trunks.page(page_size=2)
    assert first.next_page_url.startswith("https://trunking.twilio.com/v1/Trunks?")


def test_origination_urls(tw):
    trunk = tw.trunking.v1.trunks.create(friendly_name="t")
    urls = tw.trunking.v1.trunks(trunk.sid).origination_urls
    created = urls.create(
        weight=10,
        priority=10,
        enabled=True,
        friendly_name="livekit",
        sip_url="sip:abc.sip.livekit.cloud;transport=tcp",
    )
    assert created.sid.startswith("OU") and created.trunk_sid == trunk.sid
    assert (created.weight, created.priority, created.enabled) == (10, 10, True)
    assert [u.sip_url for u in urls.list()] == ["sip:abc.sip.livekit.cloud;transport=tcp"]
    assert urls(created.sid).update(weight=20).weight == 20
    with pytest.raises(TwilioRestException) as caught:
        urls.create(weight=0, priority=1, enabled=True, friendly_name="x", sip_url="sip:a")
    assert (caught.value.status, caught.value.code) == (400, 20001)
    with pytest.raises(TwilioRestException) as caught:
        urls.create(weight=1, priority=1, enabled=True, friendly_name="x", sip_url="http://a")
    assert caught.value.code == 20001
    assert urls(created.sid).delete() is True
    assert urls.list() == []


def test_numbers_attach_list_detach(tw):
    trunk = tw.trunking.v1.trunks.create(friendly_name="t")
    number = numbers_by_e164(tw)["+14155550100"]
    attached = tw.trunking.v1.trunks(trunk.sid).phone_numbers.create(phone_number_sid=number.sid)
    assert (attached.sid, attached.trunk_sid) == (number.sid, trunk.sid)
    assert tw.incoming_phone_numbers(number.sid).fetch().trunk_sid == trunk.sid
    listed = tw.trunking.v1.trunks(trunk.sid).phone_numbers.list()
    assert [n.phone_number for n in listed] == ["+14155550100"]
    assert tw.trunking.v1.trunks(trunk.sid).phone_numbers(number.sid).delete() is True
    assert tw.incoming_phone_numbers(number.sid).fetch().trunk_sid is None
    with pytest.raises(TwilioRestException) as caught:
        tw.trunking.v1.trunks(trunk.sid).phone_numbers(number.sid).fetch()
    assert caught.value.code == 20404
    with pytest.raises(TwilioRestException) as caught:
        tw.trunking.v1.trunks(trunk.sid).phone_numbers.create(phone_number_sid="PN" + "0" * 32)
    assert (caught.value.status, caught.value.code) == (404, 20404)


def test_a_number_on_another_trunk_is_moved_silently(tw):
    """Twilio documents no refusal, so the emulator moves it: clients must check trunk_sid."""
    theirs = tw.trunking.v1.trunks.create(friendly_name="theirs")
    ours = tw.trunking.v1.trunks.create(friendly_name="ours")
    number = numbers_by_e164(tw)["+14155550101"]
    tw.incoming_phone_numbers(number.sid).update(trunk_sid=theirs.sid)
    assert tw.incoming_phone_numbers(number.sid).fetch().trunk_sid == theirs.sid
    tw.trunking.v1.trunks(ours.sid).phone_numbers.create(phone_number_sid=number.sid)
    assert tw.incoming_phone_numbers(number.sid).fetch().trunk_sid == ours.sid
    tw.incoming_phone_numbers(number.sid).update(trunk_sid="")
    assert tw.incoming_phone_numbers(number.sid).fetch().trunk_sid is None


def test_deleting_a_trunk_detaches_its_numbers(tw):
    trunk = tw.trunking.v1.trunks.create(friendly_name="t")
    number = numbers_by_e164(tw)["+14155550102"]
    tw.trunking.v1.trunks(trunk.sid).phone_numbers.create(phone_number_sid=number.sid)
    tw.trunking.v1.trunks(trunk.sid).delete()
    assert tw.incoming_phone_numbers(number.sid).fetch().trunk_sid is None


def test_search_and_buy_a_number(tw):
    available = tw.available_phone_numbers("US").local.list(area_code="415", limit=5)
    assert len(available) == 5
    assert not {a.phone_number for a in available} & set(NUMBERS)
    assert available[0].capabilities["voice"] is True
    bought = tw.incoming_phone_numbers.create(phone_number=available[0].phone_number)
    assert bought.sid.startswith("PN") and bought.phone_number == available[0].phone_number
    with pytest.raises(TwilioRestException) as caught:
        tw.incoming_phone_numbers.create(phone_number=available[0].phone_number)
    assert (caught.value.status, caught.value.code) == (400, 21422)
    again = tw.available_phone_numbers("US").local.list(area_code="415", limit=5)
    assert bought.phone_number not in {a.phone_number for a in again}


def test_not_voice_capable_numbers_show_it(twilio_emu, tw):
    twilio_emu.control.post(
        "numbers", {"numbers": [{"phone_number": "+14155550199", "voice": False}]}
    )
    sms_only = numbers_by_e164(tw)["+14155550199"]
    assert sms_only.capabilities["voice"] is False


def test_rate_limit_fault_has_twilio_body_and_retry_after(twilio_emu, tw):
    twilio_emu.control.add_faults(
        [{"method": "ListTrunks", "action": "status", "status": 429, "retry_after": 2, "count": 1}]
    )
    url = f"{twilio_emu.url}/v1/Trunks"
    response = requests.get(url, auth=(twilio_emu.account_sid, twilio_emu.auth_token), timeout=5)
    assert response.status_code == 429 and response.headers["Retry-After"] == "2"
    assert response.json() == {
        "code": 20429,
        "message": "Too Many Requests",
        "more_info": "https://www.twilio.com/docs/errors/20429",
        "status": 429,
    }
    assert tw.trunking.v1.trunks.list() == []  # count used up


def test_a_5xx_window_and_sdk_error(twilio_emu, tw):
    twilio_emu.control.add_faults([{"method": "CreateTrunk", "action": "status", "status": 503}])
    with pytest.raises(TwilioRestException) as caught:
        tw.trunking.v1.trunks.create(friendly_name="t")
    assert (caught.value.status, caught.value.code) == (503, 20503)
    assert twilio_emu.control.state()["trunks"] == []


def test_lost_reply_after_commit_is_logged_with_the_created_sid(twilio_emu, tw):
    twilio_emu.control.add_faults(
        [{"method": "CreateTrunk", "action": "commit_then_drop", "count": 1}]
    )
    with pytest.raises(requests.exceptions.ConnectionError):
        tw.trunking.v1.trunks.create(friendly_name="lost", domain_name=DOMAIN)
    created = twilio_emu.control.created_ids("CreateTrunk")
    [stored] = twilio_emu.control.state()["trunks"]
    assert created == [stored["sid"]] and stored["domain_name"] == DOMAIN


def test_unknown_paths_are_20404(twilio_emu):
    response = requests.get(
        f"{twilio_emu.url}/v1/Nope", auth=(twilio_emu.account_sid, twilio_emu.auth_token), timeout=5
    )
    assert response.status_code == 404 and response.json()["code"] == 20404


def test_requests_are_form_encoded_with_basic_auth(twilio_emu, tw):
    tw.trunking.v1.trunks.create(friendly_name="form")
    rows = twilio_emu.control.requests("CreateTrunk")
    assert [(r["code"], r["status"]) for r in rows] == [("ok", 201)]
    response = requests.post(
        f"{twilio_emu.url}/v1/Trunks",
        data={"FriendlyName": "raw"},
        auth=(twilio_emu.account_sid, twilio_emu.auth_token),
        timeout=5,
    )
    assert response.status_code == 201 and response.json()["friendly_name"] == "raw"


def test_purchases_refused_for_billing_and_lost_replies(twilio_emu, tw):
    wanted = "+14155550150"
    twilio_emu.control.post("billing", {"funds": False})
    with pytest.raises(TwilioRestException) as caught:
        tw.incoming_phone_numbers.create(phone_number=wanted)
    assert (caught.value.status, caught.value.code) == (400, 20005)
    twilio_emu.control.post("billing", {"funds": True, "trial": True})
    with pytest.raises(TwilioRestException) as caught:
        tw.incoming_phone_numbers.create(phone_number=wanted)  # the account owns numbers
    assert (caught.value.status, caught.value.code) == (400, 10002)
    twilio_emu.control.post("billing", {"trial": False})
    twilio_emu.control.add_faults(
        [{"method": "CreateIncomingPhoneNumber", "action": "commit_then_drop", "count": 1}]
    )
    with pytest.raises(requests.exceptions.ConnectionError):
        tw.incoming_phone_numbers.create(phone_number=wanted)
    # Bought all the same: the reconciliation read finds it by its number.
    [found] = tw.incoming_phone_numbers.list(phone_number=wanted)
    assert found.sid == twilio_emu.control.created_ids("CreateIncomingPhoneNumber")[0]


def test_release_a_number_deletes_it_from_the_account(tw):
    bought = tw.incoming_phone_numbers.create(phone_number="+14155550150")
    trunk = tw.trunking.v1.trunks.create(friendly_name="t")
    tw.trunking.v1.trunks(trunk.sid).phone_numbers.create(phone_number_sid=bought.sid)
    assert tw.incoming_phone_numbers(bought.sid).delete() is True
    assert "+14155550150" not in numbers_by_e164(tw)
    assert tw.trunking.v1.trunks(trunk.sid).phone_numbers.list() == []
    with pytest.raises(TwilioRestException) as caught:  # a second release: already gone
        tw.incoming_phone_numbers(bought.sid).delete()
    assert (caught.value.status, caught.value.code) == (404, 20404)
    local = tw.available_phone_numbers("US").local.list(area_code="415", contains="0150")
    assert [a.phone_number for a in local] == ["+14155550150"]  # back on sale


def test_search_and_buy_toll_free_and_mobile(tw):
    toll_free = tw.available_phone_numbers("US").toll_free.list(area_code="888", limit=3)
    assert [a.phone_number for a in toll_free][:1] == ["+18885550100"]
    assert toll_free[0].locality is None and toll_free[0].capabilities["voice"] is True
    default = tw.available_phone_numbers("US").toll_free.list(limit=2)
    assert default[0].phone_number.startswith("+1800")
    assert tw.available_phone_numbers("US").local.list(area_code="800") == []
    mobile = tw.available_phone_numbers("GB").mobile.list(limit=2)
    assert mobile[0].phone_number == "+447700900100"
    bought = tw.incoming_phone_numbers.create(phone_number=toll_free[0].phone_number)
    assert bought.phone_number == "+18885550100"
    again = tw.available_phone_numbers("US").toll_free.list(area_code="888", limit=3)
    assert "+18885550100" not in {a.phone_number for a in again}
    assert tw.incoming_phone_numbers.create(phone_number="+447700900100").sid.startswith("PN")
    with pytest.raises(TwilioException) as caught:  # the US sells no mobile numbers here
        tw.available_phone_numbers("US").mobile.list()
    assert page_error(caught) == (404, 20404)
