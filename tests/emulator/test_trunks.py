"""Trunks: validation, conflicts, updates, get, list, delete.

livekit-sip.md §4.1, §4.2, §4.5, §4.6.
"""

from __future__ import annotations

import re

import pytest
from livekit import api
from livekit.protocol import models as proto_models
from livekit.protocol import sip as proto_sip

from .helpers import ID_RE, call_sip, get_inbound, inbound


def expect_error(lk, fn, code="invalid_argument"):
    with pytest.raises(api.TwirpError) as caught:
        lk(fn)
    assert caught.value.code == code, caught.value
    return caught.value.message


def create(lk, numbers=None, **fields):
    return lk(lambda c: c.sip.create_inbound_trunk(inbound(numbers, **fields)))


def test_ids_are_st_plus_12_shortuuid_characters(lk):
    trunk = create(lk, ["+15550000001"])
    assert re.fullmatch("ST_" + ID_RE, trunk.sip_trunk_id)
    out = lk(
        lambda c: c.sip.create_outbound_trunk(
            api.CreateSIPOutboundTrunkRequest(
                trunk=api.SIPOutboundTrunkInfo(address="sip.example.com", numbers=["+15550000002"])
            )
        )
    )
    assert re.fullmatch("ST_" + ID_RE, out.sip_trunk_id)


@pytest.mark.parametrize(
    ("request_", "msg"),
    [
        (api.CreateSIPInboundTrunkRequest(), "missing trunk"),
        (inbound(["+1555"], sip_trunk_id="ST_x"), "trunk id must not be set"),
        (
            inbound([]),
            "for security, one of the fields must be set: "
            "AuthUsername+AuthPassword, AllowedAddresses or Numbers",
        ),
        (inbound(["+1555"], headers={"Via": "x"}), None),
        (inbound(["+1555"], headers={"bad name": "x"}), None),
        (inbound(["+1555"], media=api.SIPMediaConfig(media_timeout={"seconds": 601})), None),
        (
            inbound(["+1555"], media=api.SIPMediaConfig(codecs=[api.SIPCodec(name="PCMU/8000")])),
            None,
        ),
    ],
)
def test_invalid_inbound_trunks_are_invalid_argument(lk, request_, msg):
    message = expect_error(lk, lambda c: c.sip.create_inbound_trunk(request_))
    if msg:
        assert message == msg


def test_a_trunk_without_numbers_is_fine_with_auth_or_addresses(lk):
    assert create(lk, auth_username="u", auth_password="p").sip_trunk_id
    assert create(lk, allowed_addresses=["10.0.0.0/8"], allowed_numbers=["+1999"]).sip_trunk_id


@pytest.mark.parametrize(
    ("address", "msg"),
    [
        ("", "no outbound address specified"),
        ("sip:pbx.example.com", "trunk address should be a hostname or IP, not SIP URI"),
        ("user@pbx.example.com", "trunk address should be a hostname or IP, not SIP URI"),
        (
            "pbx.example.com;transport=tcp",
            "trunk transport should be set as a field, not a URI parameter",
        ),
    ],
)
def test_outbound_trunk_validation(lk, address, msg):
    req = api.CreateSIPOutboundTrunkRequest(
        trunk=api.SIPOutboundTrunkInfo(address=address, numbers=["+1"])
    )
    assert expect_error(lk, lambda c: c.sip.create_outbound_trunk(req)) == msg
    req = api.CreateSIPOutboundTrunkRequest(trunk=api.SIPOutboundTrunkInfo(address="pbx"))
    assert (
        expect_error(lk, lambda c: c.sip.create_outbound_trunk(req)) == "no trunk numbers specified"
    )


@pytest.mark.parametrize("other", ["15551234567", "+1 (555) 123-4567", "+1-555-123-4567"])
def test_normalised_numbers_share_a_bucket(lk, other):
    first = create(lk, ["+15551234567"])
    msg = expect_error(lk, lambda c: c.sip.create_inbound_trunk(inbound([other])))
    assert msg == (
        f'Conflicting inbound SIP Trunks: "<new>" and "{first.sip_trunk_id}", using the same '
        f'number(s) ["{other}"] without AllowedNumbers set'
    )


def test_allowed_numbers_split_a_bucket(lk):
    create(lk, ["+15550000010"], allowed_numbers=["+1777"])
    assert create(lk, ["+15550000010"], allowed_numbers=["+1888"]).sip_trunk_id  # disjoint: fine
    msg = expect_error(
        lk,
        lambda c: c.sip.create_inbound_trunk(inbound(["+15550000010"], allowed_numbers=["1888"])),
    )
    assert msg.endswith('using the same number(s) ["+15550000010"] and AllowedNumber "1888"')
    # The validation gap: a trunk without allowed_numbers next to one with them is accepted.
    assert create(lk, ["+15550000010"]).sip_trunk_id


def test_wildcard_trunks_conflict_only_with_each_other(lk):
    create(lk, auth_username="a", auth_password="p")
    assert create(lk, ["+15550000020"]).sip_trunk_id  # specific beside wildcard: fine
    msg = expect_error(
        lk, lambda c: c.sip.create_inbound_trunk(inbound([], allowed_addresses=["1.2.3.4"]))
    )
    assert "using the same number(s) <any> without AllowedNumbers set" in msg


def test_same_number_twice_in_one_trunk_and_addresses_do_not_matter(lk):
    assert create(lk, ["+15550000030", "15550000030"]).sip_trunk_id
    expect_error(
        lk,
        lambda c: c.sip.create_inbound_trunk(
            inbound(["+15550000030"], allowed_addresses=["9.9.9.9"])
        ),
    )


def test_replace_update_forces_the_id_and_revalidates(lk):
    t = create(lk, ["+15550000040"], name="a")
    new = lk(
        lambda c: c.sip.update_inbound_trunk(
            t.sip_trunk_id, api.SIPInboundTrunkInfo(numbers=["+15550000041"], name="b")
        )
    )
    assert (new.sip_trunk_id, new.name, list(new.numbers)) == (
        t.sip_trunk_id,
        "b",
        ["+15550000041"],
    )
    assert expect_error(
        lk,
        lambda c: c.sip.update_inbound_trunk(
            t.sip_trunk_id, api.SIPInboundTrunkInfo(sip_trunk_id="ST_other", numbers=["+1"])
        ),
    ) == ("trunk id in the info must be empty or match the id in the update")
    assert expect_error(
        lk, lambda c: c.sip.update_inbound_trunk(t.sip_trunk_id, api.SIPInboundTrunkInfo())
    ).startswith("for security")
    assert expect_error(
        lk,
        lambda c: c.sip.update_inbound_trunk("ST_missing", api.SIPInboundTrunkInfo(numbers=["+1"])),
        "not_found",
    ) == ("requested sip trunk does not exist")


def _update(trunk_id, **update):
    return proto_sip.UpdateSIPInboundTrunkRequest(
        sip_trunk_id=trunk_id, update=proto_sip.SIPInboundTrunkUpdate(**update)
    )


@pytest.mark.parametrize(
    ("list_update", "msg"),
    [
        (proto_models.ListUpdate(), "unsupported list update operation"),
        (
            proto_models.ListUpdate(clear=True, add=["+1"]),
            "cannot clear and change the list at the same time",
        ),
        (
            proto_models.ListUpdate(set=["+1"], remove=["+2"]),
            "cannot set and change the list at the same time",
        ),
        (proto_models.ListUpdate(add=[""]), "empty element in the list"),
    ],
)
def test_list_update_rules(lk, list_update, msg):
    t = create(lk, ["+15550000050"])
    req = _update(t.sip_trunk_id, numbers=list_update)
    assert (
        expect_error(
            lk, lambda c: call_sip(c, "UpdateSIPInboundTrunk", req, proto_sip.SIPInboundTrunkInfo)
        )
        == msg
    )


def test_update_arm_applies_lists_and_optionals_then_revalidates(lk):
    t = create(lk, ["+15550000060", "+15550000061"], name="a", metadata="m")
    new = lk(
        lambda c: c.sip.update_inbound_trunk_fields(
            t.sip_trunk_id,
            numbers=api.ListUpdate(remove=["+15550000060"], add=["+15550000061", "+15550000062"]),
            name="b",
        )
    )
    assert list(new.numbers) == ["+15550000061", "+15550000062"] and (new.name, new.metadata) == (
        "b",
        "m",
    )
    assert expect_error(
        lk, lambda c: c.sip.update_inbound_trunk_fields(t.sip_trunk_id, numbers=[])
    ) == ("unsupported list update operation")  # livekit-api gotcha, §8.3
    cleared = _update(t.sip_trunk_id, numbers=proto_models.ListUpdate(clear=True))
    assert expect_error(
        lk, lambda c: call_sip(c, "UpdateSIPInboundTrunk", cleared, proto_sip.SIPInboundTrunkInfo)
    ).startswith("for security")
    assert (
        expect_error(
            lk,
            lambda c: call_sip(
                c,
                "UpdateSIPInboundTrunk",
                proto_sip.UpdateSIPInboundTrunkRequest(sip_trunk_id=t.sip_trunk_id),
                proto_sip.SIPInboundTrunkInfo,
            ),
        )
        == "missing or unsupported update action"
    )
    assert expect_error(
        lk,
        lambda c: call_sip(c, "UpdateSIPInboundTrunk", _update(""), proto_sip.SIPInboundTrunkInfo),
    ) == ("trunk id must be set")


def test_update_conflicts_are_rechecked_but_the_oss_gap_is_mirrored(lk):
    t1 = create(lk, ["+15550000070"])
    t2 = create(lk, ["+15550000071"])
    msg = expect_error(
        lk,
        lambda c: c.sip.update_inbound_trunk_fields(
            t2.sip_trunk_id, numbers=api.ListUpdate(add=["+15550000070"])
        ),
    )
    assert t1.sip_trunk_id in msg and t2.sip_trunk_id in msg
    # Replace onto numbers that share nothing with the stored ones: OSS never checks it (§4.2).
    moved = lk(
        lambda c: c.sip.update_inbound_trunk(
            t2.sip_trunk_id, api.SIPInboundTrunkInfo(numbers=["+15550000070"])
        )
    )
    assert list(moved.numbers) == ["+15550000070"]


def test_get_inbound_trunk(lk):
    t = create(lk, ["+15550000080"])
    assert lk(lambda c: get_inbound(c, t.sip_trunk_id)) == t
    assert expect_error(lk, lambda c: get_inbound(c, "")) == "trunk ID is required"
    assert (
        expect_error(lk, lambda c: get_inbound(c, "ST_nope"), "not_found")
        == "requested sip trunk does not exist"
    )
    out = lk(
        lambda c: c.sip.create_outbound_trunk(
            api.CreateSIPOutboundTrunkRequest(
                trunk=api.SIPOutboundTrunkInfo(address="pbx", numbers=["+1"])
            )
        )
    )
    expect_error(lk, lambda c: get_inbound(c, out.sip_trunk_id), "not_found")
    got = lk(
        lambda c: call_sip(
            c,
            "GetSIPOutboundTrunk",
            proto_sip.GetSIPOutboundTrunkRequest(sip_trunk_id=out.sip_trunk_id),
            proto_sip.GetSIPOutboundTrunkResponse,
        )
    )
    assert got.trunk == out


def test_delete_trunk_is_asymmetric_and_serves_both_kinds(lk, control):
    gone = lk(lambda c: c.sip.delete_trunk(api.DeleteSIPTrunkRequest(sip_trunk_id="ST_unknown")))
    assert gone == proto_sip.SIPTrunkInfo(sip_trunk_id="ST_unknown")
    assert (
        expect_error(lk, lambda c: c.sip.delete_trunk(api.DeleteSIPTrunkRequest()))
        == "trunk ID is required"
    )
    t = create(lk, ["+15550000090"], name="x")
    out = lk(
        lambda c: c.sip.create_outbound_trunk(
            api.CreateSIPOutboundTrunkRequest(
                trunk=api.SIPOutboundTrunkInfo(address="pbx", numbers=["+1"])
            )
        )
    )
    for trunk_id in (t.sip_trunk_id, out.sip_trunk_id):
        assert (
            lk(
                lambda c, i=trunk_id: c.sip.delete_trunk(api.DeleteSIPTrunkRequest(sip_trunk_id=i))
            ).name
            == ""
        )
    assert control.state() == {"inbound_trunks": [], "outbound_trunks": [], "dispatch_rules": []}


def test_list_filters_include_wildcards_sorted_by_id(lk):
    a = create(lk, ["+15550000100"])
    b = create(lk, ["+15550000101"])
    wild = create(lk, auth_username="u", auth_password="p")

    def ids(req):
        return [t.sip_trunk_id for t in lk(lambda c: c.sip.list_inbound_trunk(req)).items]

    assert ids(api.ListSIPInboundTrunkRequest()) == sorted(
        [a.sip_trunk_id, b.sip_trunk_id, wild.sip_trunk_id]
    )
    assert ids(api.ListSIPInboundTrunkRequest(numbers=["1 555 000 0100"])) == sorted(
        [a.sip_trunk_id, wild.sip_trunk_id]
    )
    assert ids(
        api.ListSIPInboundTrunkRequest(trunk_ids=[b.sip_trunk_id, "ST_missing", a.sip_trunk_id])
    ) == sorted([a.sip_trunk_id, b.sip_trunk_id])  # sorted, missing omitted, no holes
    everything = ids(api.ListSIPInboundTrunkRequest())
    after = ids(
        api.ListSIPInboundTrunkRequest(page=api.Pagination(after_id=everything[0], limit=1))
    )
    assert after == everything[1:]  # after_id exclusive; OSS ignores limit


def test_outbound_number_filter_is_exact(lk):
    out = lk(
        lambda c: c.sip.create_outbound_trunk(
            api.CreateSIPOutboundTrunkRequest(
                trunk=api.SIPOutboundTrunkInfo(address="pbx", numbers=["+15550000110"])
            )
        )
    )
    exact = lk(
        lambda c: c.sip.list_outbound_trunk(
            api.ListSIPOutboundTrunkRequest(numbers=["+15550000110"])
        )
    )
    other = lk(
        lambda c: c.sip.list_outbound_trunk(
            api.ListSIPOutboundTrunkRequest(numbers=["15550000110"])
        )
    )
    assert [t.sip_trunk_id for t in exact.items] == [out.sip_trunk_id] and list(other.items) == []


def test_outbound_update_both_arms(lk):
    out = lk(
        lambda c: c.sip.create_outbound_trunk(
            api.CreateSIPOutboundTrunkRequest(
                trunk=api.SIPOutboundTrunkInfo(address="pbx", numbers=["+1"])
            )
        )
    )
    new = lk(
        lambda c: c.sip.update_outbound_trunk_fields(out.sip_trunk_id, address="pbx2", name="n")
    )
    assert (new.address, new.name) == ("pbx2", "n")
    assert expect_error(
        lk, lambda c: c.sip.update_outbound_trunk_fields(out.sip_trunk_id, address="sip:x")
    ) == ("trunk address should be a hostname or IP, not SIP URI")
    new = lk(
        lambda c: c.sip.update_outbound_trunk(
            out.sip_trunk_id, api.SIPOutboundTrunkInfo(address="h", numbers=["+2"])
        )
    )
    assert list(new.numbers) == ["+2"] and new.sip_trunk_id == out.sip_trunk_id


def test_legacy_list_and_no_timestamps_by_default(lk):
    t = create(lk, ["+15550000120"], name="legacy")
    legacy = lk(
        lambda c: call_sip(
            c, "ListSIPTrunk", proto_sip.ListSIPTrunkRequest(), proto_sip.ListSIPTrunkResponse
        )
    )
    assert [(i.sip_trunk_id, i.outbound_number) for i in legacy.items] == [
        (t.sip_trunk_id, "+15550000120")
    ]
    assert not t.HasField("created_at") and not t.HasField("updated_at")
