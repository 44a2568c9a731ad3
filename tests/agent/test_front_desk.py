"""Opening hours on the agent side: reading the call-time part of the config, the script for
open and closed, and the platform client revalidating a config that carries open/closed."""

import pytest

from agent.clinic_config import InvalidConfig, parse_config
from agent.front_desk import routed_receptionist, script_for
from tests.agent.test_platform_client import by_clinic, config_body, ok, run_with_platform

WEEK = {"set": True, "weekly": [], "closures": []}


def call_time(open_now=True, **after):
    return {
        "open_now": open_now,
        "open_until": "2026-12-04T17:00-05:00" if open_now else None,
        "opens_at": None if open_now else "2026-12-07T09:00-05:00",
        "timezone": "America/New_York",
        "hours": WEEK,
        "after_hours": {
            "action": "message",
            "greeting": "",
            "instructions": "",
            "route_to": None,
            **after,
        },
        "knowledge": {
            "address": "12 High Street",
            "directions": "",
            "services": ["Check-ups", "Whitening"],
            "insurers": ["Delta Dental"],
            "languages": [],
            "emergency_number": "+14155550100",
            "faqs": [{"question": "Do you see children?", "answer": "Yes, from age 3."}],
        },
    }


def test_open_the_line_greets_as_usual_and_knows_the_clinic():
    config = parse_config(config_body(**call_time(True)))
    script = script_for(config)
    assert not script.closed
    assert script.greeting == "Thank you for calling Bright Smile Dental, how can I help?"
    assert "Address: 12 High Street" in script.instructions
    assert "Insurance accepted: Delta Dental" in script.instructions
    assert "Q: Do you see children? A: Yes, from age 3." in script.instructions
    assert "take_message" in script.instructions


def test_closed_the_after_hours_greeting_and_instructions_apply():
    config = parse_config(
        config_body(
            **call_time(
                False, greeting="We're closed; I can take a message.", instructions="Be brief."
            )
        )
    )
    script = script_for(config)
    assert script.closed and script.greeting == "We're closed; I can take a message."
    assert "opens again Monday at 9:00 AM" in script.instructions
    assert "Be brief." in script.instructions and "take_message" in script.instructions


def test_closed_without_a_greeting_says_when_the_clinic_opens():
    script = script_for(parse_config(config_body(**call_time(False))))
    assert script.greeting.startswith("Thank you for calling Bright Smile Dental.")
    assert "open again Monday at 9:00 AM" in script.greeting


def test_the_emergency_choice_gives_the_number_first():
    script = script_for(parse_config(config_body(**call_time(False, action="emergency"))))
    assert "give the emergency number +14155550100 first" in script.instructions


def test_a_route_names_the_receptionist_only_while_closed():
    route = {"action": "route", "route_to": {"id": 7, "name": "Night line", "line": "night"}}
    assert routed_receptionist(parse_config(config_body(**call_time(False, **route)))) == 7
    assert routed_receptionist(parse_config(config_body(**call_time(True, **route)))) is None


def test_an_older_platform_without_hours_is_open_as_before():
    config = parse_config(config_body())
    assert config.call_time is None and not script_for(config).closed


def test_open_now_must_be_a_boolean_but_odd_extras_are_ignored():
    with pytest.raises(InvalidConfig):
        parse_config(config_body(**{**call_time(True), "open_now": "yes"}))
    odd = parse_config(
        config_body(**{**call_time(False), "after_hours": "route", "knowledge": ["x"]})
    )
    assert odd.call_time.after_hours_action == "message" and odd.call_time.knowledge["faqs"] == []


def test_a_config_with_hours_is_revalidated_even_when_the_version_matches():
    async def scenario(client):
        first = await client.fetch_config(by_clinic(3))
        second = await client.fetch_config(by_clinic(3))
        return first, second

    (first, second), platform = run_with_platform(
        lambda p: [ok(3, **call_time(True)), p.not_modified], scenario
    )
    assert (first.source, second.source) == ("platform", "revalidated")
    assert platform.requests[1]["if_none_match"] == '"3"'
