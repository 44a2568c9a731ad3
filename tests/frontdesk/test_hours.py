"""Open or closed at an instant: weekly periods on the real calendar of the clinic's zone,
closures as whole local days, DST changes, periods and closures around midnight."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from frontdesk.hours import clean_closures, clean_weekly, open_state

NY = ZoneInfo("America/New_York")
WEEKDAYS_9_TO_5 = clean_weekly([{"day": d, "opens": "09:00", "closes": "17:00"} for d in range(5)])


def at(text: str, zone: ZoneInfo = NY) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=zone)


def test_open_on_a_weekday_until_five_local():
    state = open_state(WEEKDAYS_9_TO_5, [], "America/New_York", at("2026-12-02T10:00"))
    assert state.open_now and state.open_until == at("2026-12-02T17:00")
    assert state.opens_at is None


def test_closed_on_friday_evening_opens_monday_morning():
    state = open_state(WEEKDAYS_9_TO_5, [], "America/New_York", at("2026-12-04T17:00"))
    assert not state.open_now and state.opens_at == at("2026-12-07T09:00")


def test_the_decision_is_in_the_clinic_zone_not_utc():
    # 15:30 UTC is 10:30 in New York (open) and 02:30 in Honolulu... 05:30 (closed).
    now = datetime(2026, 12, 2, 15, 30, tzinfo=UTC)
    assert open_state(WEEKDAYS_9_TO_5, [], "America/New_York", now).open_now
    assert not open_state(WEEKDAYS_9_TO_5, [], "Pacific/Honolulu", now).open_now


def test_no_hours_means_open_around_the_clock_but_closures_still_close():
    now = at("2026-12-25T12:00")
    assert open_state([], [], "America/New_York", now).open_now
    closed = open_state([], [{"date": "2026-12-25", "reason": ""}], "America/New_York", now)
    assert not closed.open_now and closed.opens_at == at("2026-12-26T00:00")


def test_dst_spring_forward_keeps_local_opening_times():
    # Sunday 8 March 2026 02:00 EST -> 03:00 EDT. Monday opens at 09:00 EDT (13:00 UTC),
    # not 09:00 EST: a fixed UTC offset would say 14:00 UTC.
    state = open_state(WEEKDAYS_9_TO_5, [], "America/New_York", at("2026-03-06T18:00"))
    assert state.opens_at == at("2026-03-09T09:00")
    assert state.opens_at.astimezone(UTC).hour == 13
    assert state.opens_at.utcoffset().total_seconds() == -4 * 3600


def test_dst_fall_back_day_is_25_hours_long_for_an_all_night_line():
    # Sunday 1 November 2026 has 25 hours in New York; open 00:00-24:00 that Sunday only.
    weekly = clean_weekly([{"day": 6, "opens": "00:00", "closes": "24:00"}])
    state = open_state(weekly, [], "America/New_York", at("2026-11-01T00:30"))
    assert state.open_now and state.open_until == at("2026-11-02T00:00")
    # (Aware datetimes of one zone subtract as wall clocks: compare in UTC.)
    opened = at("2026-11-01T00:00").astimezone(UTC)
    assert (state.open_until.astimezone(UTC) - opened).total_seconds() == 25 * 3600


def test_a_time_skipped_by_dst_opens_at_the_first_real_instant():
    # 02:30 does not exist on 8 March 2026 in New York.
    weekly = clean_weekly([{"day": 6, "opens": "02:30", "closes": "05:00"}])
    state = open_state(weekly, [], "America/New_York", at("2026-03-08T01:00"))
    assert not state.open_now
    assert state.opens_at.astimezone(UTC) == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)


def test_periods_that_meet_at_midnight_are_one_opening():
    # Open Monday 18:00 until Tuesday 02:00, entered as two periods.
    weekly = clean_weekly(
        [
            {"day": 0, "opens": "18:00", "closes": "24:00"},
            {"day": 1, "opens": "00:00", "closes": "02:00"},
        ]
    )
    state = open_state(weekly, [], "America/New_York", at("2026-11-30T23:00"))
    assert state.open_now and state.open_until == at("2026-12-01T02:00")


def test_a_closure_cuts_an_overnight_opening_at_midnight():
    weekly = clean_weekly(
        [
            {"day": 0, "opens": "18:00", "closes": "24:00"},
            {"day": 1, "opens": "00:00", "closes": "02:00"},
        ]
    )
    tuesday_closed = [{"date": "2026-12-01", "reason": "Staff training"}]
    state = open_state(weekly, tuesday_closed, "America/New_York", at("2026-11-30T23:00"))
    assert state.open_now and state.open_until == at("2026-12-01T00:00")
    after = open_state(weekly, tuesday_closed, "America/New_York", at("2026-12-01T00:30"))
    assert not after.open_now and after.opens_at == at("2026-12-07T18:00")


def test_a_closure_spanning_midnight_over_two_days():
    # Closed 24 and 25 December (Thursday, Friday): from Wednesday's closing to Monday.
    closures = clean_closures(
        [{"date": "2026-12-25", "reason": "Christmas"}, {"date": "2026-12-24", "reason": "Eve"}]
    )
    state = open_state(WEEKDAYS_9_TO_5, closures, "America/New_York", at("2026-12-23T16:00"))
    assert state.open_now and state.open_until == at("2026-12-23T17:00")
    night = open_state(WEEKDAYS_9_TO_5, closures, "America/New_York", at("2026-12-24T23:59"))
    assert not night.open_now and night.opens_at == at("2026-12-28T09:00")
    # The closures are local dates: 25 December 03:00 UTC is still the 24th in New York.
    utc = open_state(
        WEEKDAYS_9_TO_5, closures, "America/New_York", datetime(2026, 12, 25, 3, tzinfo=UTC)
    )
    assert not utc.open_now and utc.opens_at == at("2026-12-28T09:00")


def test_closed_for_longer_than_the_horizon_says_no_opening():
    closures = [{"date": f"2027-01-{d:02d}", "reason": ""} for d in range(1, 32)] + [
        {"date": f"2027-02-{d:02d}", "reason": ""} for d in range(1, 20)
    ]
    state = open_state([], closures, "UTC", datetime(2027, 1, 1, 12, tzinfo=UTC))
    assert not state.open_now and state.opens_at is None


@pytest.mark.parametrize(
    ("rows", "field"),
    [
        ([{"day": 0, "opens": "17:00", "closes": "09:00"}], "weekly[0].closes"),
        ([{"day": 0, "opens": "09:00", "closes": "09:00"}], "weekly[0].closes"),
        ([{"day": 7, "opens": "09:00", "closes": "17:00"}], "weekly[0].day"),
        ([{"day": True, "opens": "09:00", "closes": "17:00"}], "weekly[0].day"),
        ([{"day": 0, "opens": "24:00", "closes": "24:00"}], "weekly[0].opens"),
        ([{"day": 0, "opens": "9am", "closes": "17:00"}], "weekly[0].opens"),
        ([{"day": 0, "opens": "09:00", "closes": "25:00"}], "weekly[0].closes"),
        ([{"day": 0, "opens": "09:00"}], "weekly[0]"),
        (
            [
                {"day": 2, "opens": "09:00", "closes": "13:00"},
                {"day": 2, "opens": "12:00", "closes": "17:00"},
            ],
            "weekly",
        ),
        ("Mon-Fri 9-5", "weekly"),
    ],
)
def test_bad_weekly_hours_name_the_entry(rows, field):
    with pytest.raises(ValidationError) as caught:
        clean_weekly(rows)
    assert field in caught.value.message_dict


def test_overlap_message_says_which_day_and_times():
    with pytest.raises(ValidationError) as caught:
        clean_weekly(
            [
                {"day": 2, "opens": "12:00", "closes": "17:00"},
                {"day": 2, "opens": "09:00", "closes": "13:00"},
            ]
        )
    message = caught.value.message_dict["weekly"][0]
    assert "Wednesday" in message and "09:00-13:00" in message and "12:00-17:00" in message


def test_back_to_back_periods_are_not_an_overlap():
    rows = [
        {"day": 2, "opens": "13:00", "closes": "17:00"},
        {"day": 2, "opens": "09:00", "closes": "13:00"},
    ]
    assert [p["opens"] for p in clean_weekly(rows)] == [540, 780]


@pytest.mark.parametrize(
    ("rows", "field"),
    [
        ([{"date": "2026-02-30"}], "closures[0].date"),
        ([{"date": "25/12/2026"}], "closures[0].date"),
        ([{"date": 20261225}], "closures[0].date"),
        ([{"date": "2026-12-25"}, {"date": "2026-12-25"}], "closures[1].date"),
        ([{"date": "2026-12-25", "reason": "x" * 121}], "closures[0].reason"),
        ([{"date": "2026-12-25", "why": "x"}], "closures[0]"),
    ],
)
def test_bad_closures_name_the_entry(rows, field):
    with pytest.raises(ValidationError) as caught:
        clean_closures(rows)
    assert field in caught.value.message_dict
