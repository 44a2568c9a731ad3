"""Selectors the web pages build on: the SIP endpoint split and the provisioning steps."""

from __future__ import annotations

import pytest

from telephony.models import Provisioning
from tenants.selectors import SipEndpoint, provisioning_steps, sip_endpoint

State = Provisioning.State


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (
            "sip:vjnxecm0tjk.sip.livekit.cloud",
            SipEndpoint("vjnxecm0tjk.sip.livekit.cloud", None, ""),
        ),
        ("sip:127.0.0.1:5060", SipEndpoint("127.0.0.1", 5060, "")),
        ("sips:sip.example.com:5061;transport=TLS", SipEndpoint("sip.example.com", 5061, "tls")),
        ("sip:pbx@sip.example.com;transport=tcp", SipEndpoint("sip.example.com", None, "tcp")),
        ("sip:[2001:db8::1]:5080", SipEndpoint("2001:db8::1", 5080, "")),
        ("  SIP:Sip.Example.com  ", SipEndpoint("Sip.Example.com", None, "")),
    ],
)
def test_sip_endpoint_splits_what_carrier_portals_ask_for(uri, expected):
    assert sip_endpoint(uri) == expected


def test_sip_endpoint_defaults_the_port_for_display():
    assert sip_endpoint("sip:sip.example.com").port_or_default == 5060
    assert sip_endpoint("sip:sip.example.com:5080").port_or_default == 5080


def _statuses(**fields):
    prov = Provisioning(**{"generation": 1, "observed_generation": 0, **fields})
    return [(s.key, s.status) for s in provisioning_steps(prov)]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"state": State.NEW, "generation": 0}, ["waiting", "waiting", "waiting"]),
        ({"state": State.PENDING}, ["working", "waiting", "waiting"]),
        ({"state": State.PROVISIONING, "trunk_id": "ST_1"}, ["done", "working", "waiting"]),
        ({"state": State.RETRYING}, ["retrying", "waiting", "waiting"]),
        (
            {"state": State.FAILED, "trunk_id": "ST_1"},
            ["done", "failed", "waiting"],
        ),
        (
            {
                "state": State.ACTIVE,
                "trunk_id": "ST_1",
                "dispatch_rule_id": "SDR_1",
                "observed_generation": 1,
            },
            ["done", "done", "done"],
        ),
        (  # an edit of a live clinic: both objects exist, the change is being applied
            {
                "state": State.PENDING,
                "trunk_id": "ST_1",
                "dispatch_rule_id": "SDR_1",
                "generation": 2,
                "observed_generation": 1,
            },
            ["done", "done", "working"],
        ),
    ],
)
def test_provisioning_steps_follow_the_stored_state(fields, expected):
    assert [status for _, status in _statuses(**fields)] == expected


@pytest.mark.parametrize("state", [State.DEPROVISIONING, State.DEPROVISIONED])
def test_provisioning_steps_are_hidden_while_a_clinic_is_removed(state):
    assert _statuses(state=state) == []
