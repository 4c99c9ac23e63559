"""Business time: the settings' grammar, ages and due moments across nights, weekends and DST."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slackbot.business_time import (
    BadSetting,
    BusinessCalendar,
    BusinessDuration,
    ReminderRules,
    parse_days,
    parse_duration,
    parse_hours,
    reminder_rules,
    rules_from_environ,
)

PARIS = ZoneInfo("Europe/Paris")
HOUR = dt.timedelta(hours=1)
MICRO = dt.timedelta(microseconds=1)
OFFICE = BusinessCalendar()  # 09:00-18:00, Mon-Fri, Europe/Paris


def paris(*args: int) -> dt.datetime:
    """A Paris wall-clock moment, as the aware UTC moment the program handles."""
    return dt.datetime(*args, tzinfo=PARIS).astimezone(dt.UTC)  # type: ignore[misc]


# ------------------------------------------------------------------------------- the grammar


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("09:00-18:00", (540, 1080)),
        (" 8:30 - 17:15 ", (510, 1035)),
        ("00:00-24:00", (0, 1440)),
        ("09:00–18:00", (540, 1080)),  # an en dash, as word processors write it
    ],
)
def test_hours_are_read(text: str, minutes: tuple[int, int]) -> None:
    assert parse_hours(text) == minutes


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("9-18", "like 09:00-18:00"),
        ("18:00-09:00", "across midnight"),
        ("09:00-09:00", "close after it opens"),
        ("25:00-26:00", "does not exist"),
        ("09:60-18:00", "does not exist"),
        ("24:30-24:45", "does not exist"),
        ("", "like 09:00-18:00"),
    ],
)
def test_bad_hours_say_what_is_wrong(text: str, words: str) -> None:
    with pytest.raises(BadSetting) as caught:
        reminder_rules(business_hours=text)
    message = str(caught.value)
    assert message.startswith("BUSINESS_HOURS: ") and words in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("Mon-Fri", {0, 1, 2, 3, 4}),
        ("Mon,Tue,Thu", {0, 1, 3}),
        ("Sun-Thu", {6, 0, 1, 2, 3}),
        ("fri-mon", {4, 5, 6, 0}),
        ("Monday-Wednesday, Fri", {0, 1, 2, 4}),
        ("Sat", {5}),
        ("Mon-Mon", {0}),
        ("Mon-Sun", set(range(7))),
    ],
)
def test_days_are_read_with_lists_and_ranges_that_wrap(text: str, days: set[int]) -> None:
    assert parse_days(text) == days


@pytest.mark.parametrize("text", ["", ",", "Mon-Fry", "Funday", "Mon-"])
def test_bad_days_name_the_variable(text: str) -> None:
    with pytest.raises(BadSetting) as caught:
        reminder_rules(business_days=text)
    assert str(caught.value).startswith("BUSINESS_DAYS: ")
    assert "Mon-Fri" in str(caught.value)


@pytest.mark.parametrize("text", ["Europe/Pari", "../etc/passwd", "", "CET+1"])
def test_unknown_time_zones_are_refused(text: str) -> None:
    with pytest.raises(BadSetting) as caught:
        reminder_rules(business_tz=text)
    assert str(caught.value).startswith("BUSINESS_TZ: ")
    assert "IANA" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "duration"),
    [
        ("4h", BusinessDuration(minutes=240)),
        ("90m", BusinessDuration(minutes=90)),
        ("1h30m", BusinessDuration(minutes=90)),
        ("1H 30M", BusinessDuration(minutes=90)),
        ("1d", BusinessDuration(days=1)),
        ("2d4h", BusinessDuration(days=2, minutes=240)),
        ("off", None),
    ],
)
def test_durations_are_read(text: str, duration: BusinessDuration | None) -> None:
    assert parse_duration(text) == duration


@pytest.mark.parametrize(
    ("text", "words"),
    [("4", "give a unit"), ("4 hours", "like 4h"), ("0h", "longer than 0"), ("-1h", "like 4h")],
)
def test_bad_durations_name_the_variable(text: str, words: str) -> None:
    with pytest.raises(BadSetting) as caught:
        reminder_rules(remind_after=text)
    assert str(caught.value).startswith("REMIND_AFTER: ") and words in str(caught.value)


def test_a_day_is_one_business_day_of_the_configured_hours() -> None:
    rules = reminder_rules(business_hours="08:00-12:00", remind_after="1d", escalate_after="2d")
    assert rules.remind_after == dt.timedelta(hours=4)
    assert rules.escalate_after == dt.timedelta(hours=8)


def test_escalating_no_later_than_reminding_is_refused() -> None:
    with pytest.raises(BadSetting) as caught:
        reminder_rules(remind_after="1d", escalate_after="9h")  # 1d is 9h at 09:00-18:00
    assert str(caught.value) == (
        "ESCALATE_AFTER: must be longer than REMIND_AFTER (1d): a request is reminded first,"
        " then escalated"
    )


def test_either_stage_may_be_off() -> None:
    assert reminder_rules(remind_after="off").remind_after is None
    assert reminder_rules(escalate_after="OFF", remind_after="48h").escalate_after is None


def test_defaults_apply_to_unset_or_blank_variables() -> None:
    assert rules_from_environ({"REMIND_AFTER": "  "}) == ReminderRules()
    rules = rules_from_environ({"BUSINESS_DAYS": "Sun-Thu", "BUSINESS_TZ": "Asia/Jerusalem"})
    assert rules.calendar.days == {6, 0, 1, 2, 3}
    assert rules.calendar.tz == ZoneInfo("Asia/Jerusalem")


# --------------------------------------------------------------------------- ages, due moments


def test_age_counts_only_open_hours() -> None:
    assert OFFICE.elapsed(paris(2026, 11, 23, 10), paris(2026, 11, 23, 14)) == 4 * HOUR
    # Friday 17:00 to Monday 10:00: one hour on Friday, one on Monday.
    assert OFFICE.elapsed(paris(2026, 11, 27, 17), paris(2026, 11, 30, 10)) == 2 * HOUR
    assert OFFICE.elapsed(paris(2026, 11, 23, 14), paris(2026, 11, 23, 10)) == dt.timedelta(0)


def test_a_request_made_at_night_or_on_a_weekend_starts_counting_at_the_next_opening() -> None:
    four = 4 * HOUR
    assert OFFICE.reached(paris(2026, 11, 23, 22, 30), four) == paris(2026, 11, 24, 13)
    assert OFFICE.reached(paris(2026, 11, 28, 11), four) == paris(2026, 11, 30, 13)  # Saturday
    assert OFFICE.reached(paris(2026, 11, 23, 7), four) == paris(2026, 11, 23, 13)
    # Made at 16:00: two hours today, two tomorrow.
    assert OFFICE.reached(paris(2026, 11, 23, 16), four) == paris(2026, 11, 24, 11)
    # Made on Friday at 17:00: 24 business hours is Friday's hour, Mon, Tue, and 5h on Wed.
    assert OFFICE.reached(paris(2026, 11, 27, 17), 24 * HOUR) == paris(2026, 12, 2, 14)


def test_due_moments_follow_paris_wall_clock_across_daylight_saving() -> None:
    # Clocks go forward on Sunday 29 March 2026 and back on Sunday 25 October 2026.
    assert OFFICE.reached(paris(2026, 3, 27, 17), 4 * HOUR) == paris(2026, 3, 30, 12)
    assert paris(2026, 3, 30, 12).hour == 10  # CEST: UTC+2
    assert paris(2026, 3, 27, 17).hour == 16  # CET: UTC+1
    assert OFFICE.reached(paris(2026, 10, 23, 17), 4 * HOUR) == paris(2026, 10, 26, 12)
    assert OFFICE.elapsed(paris(2026, 3, 27, 9), paris(2026, 3, 30, 18)) == 18 * HOUR


def test_a_day_the_clocks_change_is_as_long_as_it_really_is() -> None:
    always = BusinessCalendar(opens=0, closes=1440, days=frozenset(range(7)), tz=PARIS)
    assert always.elapsed(paris(2026, 3, 29), paris(2026, 3, 30)) == 23 * HOUR
    assert always.elapsed(paris(2026, 10, 25), paris(2026, 10, 26)) == 25 * HOUR
    # Hours across the skipped hour (02:00-03:00) count the two hours that happen.
    night = BusinessCalendar(opens=60, closes=240, days=frozenset(range(7)), tz=PARIS)
    assert night.elapsed(paris(2026, 3, 29), paris(2026, 3, 30)) == 2 * HOUR


def test_weeks_that_start_on_sunday() -> None:
    week = BusinessCalendar(days=parse_days("Sun-Thu"), tz=ZoneInfo("Asia/Jerusalem"))
    friday = dt.datetime(2026, 11, 27, 12, tzinfo=ZoneInfo("Asia/Jerusalem"))
    sunday_noon = dt.datetime(2026, 11, 29, 12, tzinfo=ZoneInfo("Asia/Jerusalem"))
    assert week.reached(friday, 3 * HOUR) == sunday_noon.astimezone(dt.UTC)


def test_the_latest_start_is_the_cut_off_for_a_given_age() -> None:
    now = paris(2026, 11, 30, 10)  # Monday 10:00
    cutoff = OFFICE.latest_start(now, 4 * HOUR)
    assert cutoff == paris(2026, 11, 27, 15)  # Friday 15:00: 3h on Friday, 1h on Monday
    # Made on Saturday: only Monday's hour so far.
    assert OFFICE.elapsed(paris(2026, 11, 28, 11), now) == HOUR
    # Exactly at an opening, a request made the night before has the same age.
    at_opening = OFFICE.latest_start(paris(2026, 11, 24, 13), 4 * HOUR)
    assert at_opening == paris(2026, 11, 24, 9)
    assert OFFICE.elapsed(paris(2026, 11, 23, 20), paris(2026, 11, 24, 13)) == 4 * HOUR


def test_next_opening() -> None:
    assert OFFICE.next_opening(paris(2026, 11, 23, 8)) == paris(2026, 11, 23, 9)
    assert OFFICE.next_opening(paris(2026, 11, 23, 9)) == paris(2026, 11, 23, 9)
    assert OFFICE.next_opening(paris(2026, 11, 23, 9, 0, 1)) == paris(2026, 11, 24, 9)
    assert OFFICE.next_opening(paris(2026, 11, 27, 18)) == paris(2026, 11, 30, 9)
    assert OFFICE.open_day(paris(2026, 11, 27, 17, 59)) == dt.date(2026, 11, 27)
    assert OFFICE.open_day(paris(2026, 11, 27, 18)) is None
    assert OFFICE.open_day(paris(2026, 11, 28, 12)) is None


def test_naive_moments_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        OFFICE.elapsed(dt.datetime(2026, 1, 1), dt.datetime(2026, 1, 2))


# --------------------------------------------------------------------------------- properties

ZONES = ["Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "UTC"]


@st.composite
def calendars(draw: st.DrawFn) -> BusinessCalendar:
    opens = draw(st.integers(0, 1439))
    closes = draw(st.integers(opens + 1, 1440))
    days = draw(st.frozensets(st.integers(0, 6), min_size=1))
    return BusinessCalendar(opens, closes, days, ZoneInfo(draw(st.sampled_from(ZONES))))


moments = st.datetimes(
    min_value=dt.datetime(2025, 1, 1),
    max_value=dt.datetime(2028, 12, 31),
    timezones=st.just(dt.UTC),
)


def durations(calendar: BusinessCalendar) -> st.SearchStrategy[dt.timedelta]:
    """Up to three weeks of the calendar's business days (a 1-minute Sunday stays quick)."""
    return st.timedeltas(min_value=MICRO, max_value=calendar.day_length * 15)


@st.composite
def with_durations(draw: st.DrawFn) -> tuple[BusinessCalendar, dt.timedelta]:
    calendar = draw(calendars())
    return calendar, draw(durations(calendar))


@settings(max_examples=300, deadline=None)
@given(with_durations(), moments)
def test_the_due_moment_is_the_first_with_that_age(
    drawn: tuple[BusinessCalendar, dt.timedelta], start: dt.datetime
) -> None:
    calendar, duration = drawn
    due = calendar.reached(start, duration)
    assert calendar.elapsed(start, due) == duration
    assert calendar.elapsed(start, due - MICRO) < duration


@settings(max_examples=300, deadline=None)
@given(with_durations(), moments)
def test_the_latest_start_is_the_last_with_that_age(
    drawn: tuple[BusinessCalendar, dt.timedelta], end: dt.datetime
) -> None:
    calendar, duration = drawn
    start = calendar.latest_start(end, duration)
    assert calendar.elapsed(start, end) == duration
    assert calendar.elapsed(start + MICRO, end) < duration


@settings(max_examples=300, deadline=None)
@given(calendars(), moments, moments, moments)
def test_ages_add_up(
    calendar: BusinessCalendar, a: dt.datetime, b: dt.datetime, c: dt.datetime
) -> None:
    a, b, c = sorted((a, b, c))
    assert calendar.elapsed(a, c) == calendar.elapsed(a, b) + calendar.elapsed(b, c)
    assert calendar.elapsed(a, c) <= c - a


@settings(max_examples=300, deadline=None)
@given(calendars(), moments)
def test_the_next_opening_opens_and_nothing_opens_before_it(
    calendar: BusinessCalendar, moment: dt.datetime
) -> None:
    opening = calendar.next_opening(moment)
    assert opening >= moment
    hours = calendar.hours_on(calendar.local_date(opening))
    assert hours is not None and hours[0] == opening
    # No business time passes between the moment and the opening unless the moment is open.
    if not calendar.is_open(moment):
        assert calendar.elapsed(moment, opening) == dt.timedelta(0)
