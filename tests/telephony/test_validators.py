"""Phone number and address validation: table tests plus properties."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given, settings
from hypothesis import strategies as st

from telephony.validators import E164_RE, display_number, normalize_e164, validate_address


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+14155550100", "+14155550100"),
        ("+1 (415) 555-0100", "+14155550100"),
        (" +44 20 7946 0958 ", "+442079460958"),
        ("+49 30 901820", "+4930901820"),
    ],
)
def test_it_normalises_international_numbers(raw, e164):
    assert normalize_e164(raw) == e164


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "+1555",  # too short
        "+1415555010012345678",  # too long
        "4155550100",  # no country code
        "0044 20 7946 0958",  # international prefix instead of +
        "+1 415 CALL NOW",  # letters
        "+14155550100 x123",  # extension
        "+14155550100;ext=1",
        "tel:+14155550100",
        "+１４１５５５５０１００",  # full-width digits
        "+١٤١٥٥٥٥٠١٠٠",  # Arabic-Indic digits
        "+1415555\x000100",  # NUL
        "\u202e+14155550100",  # RTL override
        "+1" + "5" * 10_000,
        "*",
        "+",
        "+0123456789",
        "+1 000 000 0000",  # invalid in the numbering plan
        None,
        14155550100,
        ["+14155550100"],
    ],
)
def test_it_rejects_bad_numbers_with_a_sentence(raw):
    with pytest.raises(ValidationError) as err:
        normalize_e164(raw)
    assert err.value.messages[0].endswith(".")


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=40))
def test_any_text_is_either_rejected_or_e164(raw):
    try:
        value = normalize_e164(raw)
    except ValidationError:
        return
    assert re.match(E164_RE, value)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("192.0.2.10", "192.0.2.10"),
        ("192.0.2.0/24", "192.0.2.0/24"),
        ("192.0.2.7/24", "192.0.2.0/24"),
        ("2001:db8::1", "2001:db8::1"),
        ("sip.Carrier.example", "sip.carrier.example"),
    ],
)
def test_it_accepts_addresses(raw, clean):
    assert validate_address(raw) == clean


@pytest.mark.parametrize("raw", ["", "300.1.1.1", "1.2.3.4/99", "http://x", "a b", "*"])
def test_it_rejects_bad_addresses(raw):
    with pytest.raises(ValidationError):
        validate_address(raw)


# --- national numbers, read in the clinic's country -------------------------------------------


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("(415) 555-0199", "US", "+14155550199"),
        ("415 555 0199", "US", "+14155550199"),
        ("415.555.0199", "US", "+14155550199"),
        ("020 7946 0000", "GB", "+442079460000"),
        ("(02) 9374 4000", "AU", "+61293744000"),
        ("+44 20 7946 0000", "US", "+442079460000"),  # a number abroad keeps its own code
    ],
)
def test_national_numbers_take_the_clinics_country(raw, region, e164):
    assert normalize_e164(raw, region) == e164


def test_a_national_number_without_a_country_is_refused_with_the_fix():
    with pytest.raises(ValidationError) as excinfo:
        normalize_e164("(415) 555-0199")
    assert excinfo.value.code == "no_country_code"
    assert "Start with + and the country code" in excinfo.value.messages[0]


def test_a_national_number_that_does_not_exist_in_the_country_names_it():
    with pytest.raises(ValidationError) as excinfo:
        normalize_e164("(415) 555-019", "US")
    assert "your clinic's country (US)" in excinfo.value.messages[0]


def test_numbers_read_as_people_read_them():
    assert display_number("+14155550100") == "+1 415 555 0100"
    assert display_number("+442079460000") == "+44 20 7946 0000"
    assert display_number("not a number") == "not a number"
