"""The manual carrier guide lists the carriers' signalling addresses per region, with one
block to paste under "Carrier addresses", the date and the page they came from (decision
0114); pasting the block is accepted as it is."""

from __future__ import annotations

import ipaddress
import re

import pytest

from telephony import signalling
from telephony.models import TrunkSettings
from tests.tenants.web_helpers import setup_url

pytestmark = pytest.mark.django_db


def test_the_guide_lists_every_region_the_block_and_the_source(client, owner, clinic):
    client.force_login(owner)
    page = client.get(setup_url(clinic, "carrier")).content.decode()
    for carrier in (signalling.TWILIO, signalling.TELNYX):
        for r in carrier:
            assert r.region in page
            for a in r.addresses:
                assert f"<code>{a}</code>" in page
    block = re.search(r'id="cv-signalling-twilio">([^<]*)</pre>', page)
    assert block is not None
    assert block.group(1).split("\n") == signalling.every_address(signalling.TWILIO)
    assert signalling.TWILIO_SOURCE in page and signalling.TELNYX_SOURCE in page
    assert f"as of {signalling.CHECKED}" in page
    assert "Accept all of them" in page


def test_every_listed_address_is_a_valid_address_or_network():
    for r in (*signalling.TWILIO, *signalling.TELNYX):
        for a in r.addresses:
            ipaddress.ip_network(a, strict=True)


def test_the_twilio_block_pasted_under_carrier_addresses_is_saved(client, owner, clinic):
    client.force_login(owner)
    block = "\n".join(signalling.every_address(signalling.TWILIO))
    r = client.post(
        setup_url(clinic, "carrier"),
        {"allowed_addresses": block, "auth_username": "", "auth_password": ""},
    )
    assert r.status_code in (200, 302)
    saved = TrunkSettings.objects.get(clinic=clinic).allowed_addresses
    assert sorted(saved) == sorted(signalling.every_address(signalling.TWILIO))
