"""The Telnyx emulator driven by Telnyx's own Python library (``telnyx``), unchanged: only its
``base_url`` points at the emulator."""

from __future__ import annotations

import pytest
import requests
import telnyx

from .conftest import TELNYX_KEY, TELNYX_NUMBERS, telnyx_client

LIVEKIT_HOST = "abc123.sip.livekit.cloud"


def code_of(exc) -> str:
    return exc.body["errors"][0]["code"] if isinstance(exc.body, dict) else exc.body[0]["code"]


def numbers_by_e164(tx):
    return {n.phone_number: n for n in tx.phone_numbers.list()}


def make_connection(tx, name="switchboard clinic"):
    return tx.fqdn_connections.create(
        connection_name=name,
        transport_protocol="TCP",
        inbound={"ani_number_format": "+E.164", "dnis_number_format": "+e164"},
        tags=["switchboard"],
    ).data


def test_wrong_key_is_10009_with_401(telnyx_emu):
    bad = telnyx_client(telnyx_emu, api_key="KEY-wrong")
    with pytest.raises(telnyx.AuthenticationError) as caught:
        bad.phone_numbers.list()
    assert caught.value.status_code == 401 and code_of(caught.value) == "10009"


def test_revoked_key_stops_working(telnyx_emu, tx):
    telnyx_emu.control.post("credentials", {"api_key": "KEY-rotated"})
    with pytest.raises(telnyx.AuthenticationError):
        tx.fqdn_connections.list()
    assert telnyx_client(telnyx_emu, api_key="KEY-rotated").fqdn_connections.list().data == []


def test_phone_numbers_page_through_meta(tx):
    first = tx.phone_numbers.list(page_size=2)
    assert len(first.data) == 2
    assert (first.meta.page_number, first.meta.total_pages) == (1, 2)
    assert [n.phone_number for n in tx.phone_numbers.list(page_size=2)] == TELNYX_NUMBERS
    only = tx.phone_numbers.list(filter={"phone_number": "3125550101"})
    assert [n.phone_number for n in only] == ["+13125550101"]
    assert only.data[0].status == "active" and only.data[0].connection_id is None


def test_fqdn_connection_and_fqdn_lifecycle(tx):
    connection = make_connection(tx)
    assert connection.id.isdigit() and connection.transport_protocol == "TCP"
    assert connection.inbound.ani_number_format == "+E.164"
    assert connection.inbound.dnis_number_format == "+e164"
    fqdn = tx.fqdns.create(
        connection_id=connection.id, fqdn=LIVEKIT_HOST, dns_record_type="a", port=5060
    ).data
    assert (fqdn.connection_id, fqdn.fqdn, fqdn.port) == (connection.id, LIVEKIT_HOST, 5060)
    listed = tx.fqdns.list(filter={"connection_id": connection.id})
    assert [f.id for f in listed] == [fqdn.id]
    by_name = tx.fqdn_connections.list(filter={"connection_name": {"contains": "switchboard"}})
    assert [c.id for c in by_name] == [connection.id]
    renamed = tx.fqdn_connections.update(connection.id, connection_name="renamed").data
    assert renamed.connection_name == "renamed"
    tx.fqdns.delete(fqdn.id)
    assert tx.fqdns.list().data == []
    tx.fqdn_connections.delete(connection.id)
    with pytest.raises(telnyx.NotFoundError) as caught:
        tx.fqdn_connections.retrieve(connection.id)
    assert code_of(caught.value) == "10005"


def test_validation_errors_name_the_field(tx):
    with pytest.raises(telnyx.UnprocessableEntityError) as caught:
        tx.fqdn_connections.create(connection_name="x", transport_protocol="SCTP")
    error = caught.value.body["errors"][0]
    assert error["source"] == {"pointer": "/transport_protocol"}
    connection = make_connection(tx)
    with pytest.raises(telnyx.UnprocessableEntityError):
        tx.fqdns.create(
            connection_id=connection.id, fqdn=LIVEKIT_HOST, dns_record_type="srv", port=5060
        )
    with pytest.raises(telnyx.UnprocessableEntityError) as caught:
        tx.fqdns.create(connection_id="123", fqdn=LIVEKIT_HOST, dns_record_type="a")
    assert code_of(caught.value) == "10013"


def test_numbers_assigned_to_a_connection_and_moved_silently(tx):
    ours = make_connection(tx, "ours")
    theirs = make_connection(tx, "theirs")
    number = numbers_by_e164(tx)["+13125550100"]
    tx.phone_numbers.update(number.id, connection_id=theirs.id)
    assert tx.phone_numbers.retrieve(number.id).data.connection_id == theirs.id
    updated = tx.phone_numbers.update(number.id, connection_id=ours.id).data
    assert (updated.connection_id, updated.connection_name) == (ours.id, "ours")
    on_ours = tx.phone_numbers.list(filter={"connection_id": ours.id})
    assert [n.phone_number for n in on_ours] == ["+13125550100"]
    tx.phone_numbers.update(number.id, connection_id="")
    assert tx.phone_numbers.retrieve(number.id).data.connection_id is None
    with pytest.raises(telnyx.UnprocessableEntityError) as caught:
        tx.phone_numbers.update(number.id, connection_id="4242")
    assert code_of(caught.value) == "10013"


def test_deleting_a_connection_leaves_its_numbers_unassigned(tx):
    connection = make_connection(tx)
    number = numbers_by_e164(tx)["+13125550101"]
    tx.phone_numbers.update(number.id, connection_id=connection.id)
    tx.fqdn_connections.delete(connection.id)
    assert tx.phone_numbers.retrieve(number.id).data.connection_id is None


def test_search_and_order_a_number(telnyx_emu, tx):
    found = tx.available_phone_numbers.list(
        filter={
            "country_code": "US",
            "national_destination_code": "312",
            "limit": 3,
            "features": ["voice"],
        }
    )
    assert len(found.data) == 3 and not {a.phone_number for a in found.data} & set(TELNYX_NUMBERS)
    wanted = found.data[0].phone_number
    order = tx.number_orders.create(
        phone_numbers=[{"phone_number": wanted}], customer_reference="intent-1"
    ).data
    assert order.status == "pending" and order.phone_numbers[0].phone_number == wanted
    settled = tx.number_orders.retrieve(order.id).data
    assert settled.status == "success"
    assert numbers_by_e164(tx)[wanted].status == "active"
    by_ref = tx.number_orders.list(filter={"customer_reference": "intent-1"})
    assert [o.id for o in by_ref] == [order.id]
    with pytest.raises(telnyx.UnprocessableEntityError):
        tx.number_orders.create(phone_numbers=[{"phone_number": wanted}])


def test_a_pending_number_cannot_take_a_connection(telnyx_emu, tx):
    telnyx_emu.control.post(
        "numbers", {"numbers": [{"phone_number": "+13125550199", "status": "port-pending"}]}
    )
    connection = make_connection(tx)
    number = numbers_by_e164(tx)["+13125550199"]
    with pytest.raises(telnyx.UnprocessableEntityError):
        tx.phone_numbers.update(number.id, connection_id=connection.id)


def test_rate_limit_body_and_retry_after(telnyx_emu):
    telnyx_emu.control.add_faults(
        [
            {
                "method": "ListFqdnConnections",
                "action": "status",
                "status": 429,
                "retry_after": 3,
                "count": 1,
            }
        ]
    )
    response = requests.get(
        f"{telnyx_emu.base_url}/fqdn_connections",
        headers={"Authorization": f"Bearer {TELNYX_KEY}"},
        timeout=5,
    )
    assert response.status_code == 429 and response.headers["Retry-After"] == "3"
    [error] = response.json()["errors"]
    assert (error["code"], error["title"]) == ("10011", "Too many requests")


def test_the_sdk_retries_a_429_itself(telnyx_emu):
    telnyx_emu.control.add_faults(
        [
            {
                "method": "ListPhoneNumbers",
                "action": "status",
                "code": "10011",
                "retry_after": 0,
                "count": 1,
            }
        ]
    )
    retrying = telnyx_client(telnyx_emu, max_retries=1)
    assert len(retrying.phone_numbers.list().data) == len(TELNYX_NUMBERS)
    rows = telnyx_emu.control.requests("ListPhoneNumbers")
    assert [r["status"] for r in rows] == [429, 200]


def test_5xx_is_internal_server_error(telnyx_emu, tx):
    telnyx_emu.control.add_faults(
        [{"method": "CreateFqdnConnection", "action": "status", "status": 503}]
    )
    with pytest.raises(telnyx.InternalServerError):
        make_connection(tx)
    assert telnyx_emu.control.state()["fqdn_connections"] == []


def test_lost_reply_after_commit(telnyx_emu, tx):
    telnyx_emu.control.add_faults(
        [{"method": "CreateFqdnConnection", "action": "commit_then_drop", "count": 1}]
    )
    with pytest.raises(telnyx.APIConnectionError):
        make_connection(tx)
    [stored] = telnyx_emu.control.state()["fqdn_connections"]
    assert telnyx_emu.control.created_ids("CreateFqdnConnection") == [stored["id"]]


def test_bodies_are_json_and_other_types_refused(telnyx_emu):
    response = requests.post(
        f"{telnyx_emu.base_url}/fqdn_connections",
        data="connection_name=x",
        headers={
            "Authorization": f"Bearer {TELNYX_KEY}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
        timeout=5,
    )
    assert response.status_code == 415 and response.json()["errors"][0]["code"] == "10014"
    response = requests.get(
        f"{telnyx_emu.base_url}/nothing",
        headers={"Authorization": f"Bearer {TELNYX_KEY}"},
        timeout=5,
    )
    assert response.status_code == 404 and response.json()["errors"][0]["code"] == "10005"


def test_orders_refused_without_funds_and_found_by_reference_after_a_lost_reply(telnyx_emu, tx):
    wanted = "+13125550150"
    telnyx_emu.control.post("billing", {"funds": False})
    with pytest.raises(telnyx.APIStatusError) as caught:
        tx.number_orders.create(phone_numbers=[{"phone_number": wanted}])
    assert caught.value.status_code == 402
    assert caught.value.body["errors"][0]["code"] == "20100"
    telnyx_emu.control.post("billing", {"funds": True})
    telnyx_emu.control.add_faults(
        [{"method": "CreateNumberOrder", "action": "commit_then_drop", "count": 1}]
    )
    with pytest.raises(telnyx.APIConnectionError):
        tx.number_orders.create(phone_numbers=[{"phone_number": wanted}], customer_reference="r9")
    [order] = tx.number_orders.list(filter={"customer_reference": "r9"})
    assert order.phone_numbers[0].phone_number == wanted
    assert order.id == telnyx_emu.control.created_ids("CreateNumberOrder")[0]


def test_the_connections_fqdn_order_takes_only_its_own_fqdns(tx):
    """inbound.default_primary/secondary_fqdn_id: "Value must be the ID of an FQDN set on the
    connection"; a deleted FQDN leaves the order (the emulator's choice, docs/carriers.md)."""
    connection = make_connection(tx)
    other = make_connection(tx, "another connection")
    first, second, foreign = (
        tx.fqdns.create(connection_id=c.id, fqdn=host, dns_record_type="a", port=5060).data
        for c, host in (
            (connection, LIVEKIT_HOST),
            (connection, "eu." + LIVEKIT_HOST),
            (other, "pbx.example.net"),
        )
    )
    ordered = tx.fqdn_connections.update(
        connection.id,
        inbound={
            "default_routing_method": "sequential",
            "default_primary_fqdn_id": first.id,
            "default_secondary_fqdn_id": second.id,
        },
    ).data
    assert ordered.inbound.default_primary_fqdn_id == first.id
    assert ordered.inbound.default_secondary_fqdn_id == second.id
    assert ordered.inbound.ani_number_format == "+E.164"  # the rest of inbound is kept
    with pytest.raises(telnyx.UnprocessableEntityError) as caught:
        tx.fqdn_connections.update(connection.id, inbound={"default_primary_fqdn_id": foreign.id})
    assert "default_primary_fqdn_id" in str(caught.value.body)
    with pytest.raises(telnyx.UnprocessableEntityError):
        tx.fqdn_connections.update(connection.id, inbound={"default_routing_method": "random"})
    tx.fqdns.delete(second.id)
    after = tx.fqdn_connections.retrieve(connection.id).data
    assert after.inbound.default_secondary_fqdn_id is None
    assert after.inbound.default_primary_fqdn_id == first.id


def test_release_a_number_deletes_it_from_the_account(telnyx_emu, tx):
    connection = make_connection(tx)
    number = numbers_by_e164(tx)["+13125550101"]
    tx.phone_numbers.update(number.id, connection_id=connection.id)
    gone = tx.phone_numbers.delete(number.id).data
    assert (gone.id, gone.phone_number) == (number.id, "+13125550101")
    assert "+13125550101" not in numbers_by_e164(tx)
    state = telnyx_emu.control.state()
    assert state["fqdn_connections"][0]["phone_numbers"] == []
    with pytest.raises(telnyx.NotFoundError) as caught:  # a second release: already gone
        tx.phone_numbers.delete(number.id)
    assert code_of(caught.value) == "10005"
    on_sale = tx.available_phone_numbers.list(
        filter={"country_code": "US", "national_destination_code": "312", "limit": 100}
    )
    assert "+13125550101" in {a.phone_number for a in on_sale.data}
    first, second = telnyx_emu.control.requests("DeletePhoneNumber")
    assert (first["status"], second["status"]) == (200, 404)


def test_search_by_number_type_and_order_toll_free(tx):
    toll_free = tx.available_phone_numbers.list(
        filter={"country_code": "US", "phone_number_type": "toll_free", "limit": 2}
    ).data
    assert [a.phone_number for a in toll_free] == ["+18005550100", "+18005550101"]
    assert toll_free[0].phone_number_type == "toll_free"
    mobile = tx.available_phone_numbers.list(
        filter={"country_code": "GB", "phone_number_type": "mobile", "limit": 1}
    ).data
    assert [a.phone_number for a in mobile] == ["+447700900100"]
    none = tx.available_phone_numbers.list(
        filter={"country_code": "US", "phone_number_type": "mobile"}
    ).data
    assert none == []
    order = tx.number_orders.create(phone_numbers=[{"phone_number": "+18005550100"}]).data
    assert tx.number_orders.retrieve(order.id).data.status == "success"
    assert numbers_by_e164(tx)["+18005550100"].phone_number_type == "toll_free"
