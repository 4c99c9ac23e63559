"""Business time: opening hours, business days and a time zone, and durations counted in them.

A request's age is counted in business time: the real seconds that pass while the business is
open (``BUSINESS_HOURS`` on ``BUSINESS_DAYS``, wall-clock times in ``BUSINESS_TZ``). A request
made at night or on a weekend starts counting at the next opening. Opening hours are wall-clock
times, so on a daylight-saving day they still open and close at 09:00 and 18:00 local time, and
an hour the clocks skip inside the hours (none, in Europe/Paris: it changes at 02:00-03:00) is
simply not counted.

Durations (``REMIND_AFTER``, ``ESCALATE_AFTER``) are written ``4h``, ``90m``, ``1h30m``, ``2d``,
or ``off``. A ``d`` is one business day: the length of the opening hours (9 hours for
09:00-18:00), not 24 hours. Everything here is pure: no database, no clock of its own.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "DEFAULTS",
    "BadSetting",
    "BusinessCalendar",
    "BusinessDuration",
    "ReminderRules",
    "parse_days",
    "parse_duration",
    "parse_hours",
    "parse_time_zone",
    "reminder_rules",
    "rules_from_environ",
]

_T = TypeVar("_T")

# The settings' defaults (the README's table names the same).
DEFAULTS: Mapping[str, str] = {
    "BUSINESS_HOURS": "09:00-18:00",
    "BUSINESS_DAYS": "Mon-Fri",
    "BUSINESS_TZ": "Europe/Paris",
    "REMIND_AFTER": "4h",
    "ESCALATE_AFTER": "24h",
}

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MINUTES_PER_DAY = 24 * 60
# The longest duration a setting may name: beyond it a reminder is no reminder.
MAX_DURATION = dt.timedelta(days=366)
_HOURS = re.compile(r"^(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})$")
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$")


class BadSetting(ValueError):
    """A malformed business-time setting: ``str()`` is one line naming the variable."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem


# ------------------------------------------------------------------------------ parsing


def _shown(value: str) -> str:
    text = " ".join(value.split())
    return repr(text if len(text) <= 40 else text[:39] + "…")


def parse_hours(value: str) -> tuple[int, int]:
    """``09:00-18:00`` as (opening, closing) minutes after local midnight; ValueError if bad.

    Closing may be ``24:00`` (midnight at the end of the day); hours across midnight are not
    supported (say ``Mon-Sat`` with ``00:00-24:00`` instead of a night shift).
    """
    found = _HOURS.match(value.strip())
    if found is None:
        raise ValueError(f"must be opening and closing times like 09:00-18:00, not {_shown(value)}")
    oh, om, ch, cm = (int(part) for part in found.groups())
    if om > 59 or cm > 59 or oh > 23 or ch > 24 or (ch == 24 and cm):
        raise ValueError(f"{_shown(value)} names a time that does not exist; use 00:00 to 24:00")
    opens, closes = oh * 60 + om, ch * 60 + cm
    if closes <= opens:
        raise ValueError(
            f"must close after it opens (like 09:00-18:00), not {_shown(value)};"
            " hours across midnight are not supported"
        )
    return opens, closes


def _day(name: str) -> int:
    key = name.strip().lower()
    for number, (short, full) in enumerate(zip(DAY_NAMES, _FULL_DAY_NAMES, strict=True)):
        if key in (short.lower(), full):
            return number
    raise ValueError(
        f"{_shown(name)} is not a day; use {', '.join(DAY_NAMES)}, like Mon-Fri or Mon,Tue,Thu"
    )


def parse_days(value: str) -> frozenset[int]:
    """``Mon-Fri``, ``Mon,Tue,Thu``, ``Sun-Thu`` (a range may wrap past Sunday), or a mix, as
    weekday numbers (Monday 0); ValueError if bad."""
    days: set[int] = set()
    items = [item for item in value.split(",") if item.strip()]
    if not items:
        raise ValueError("names no day; use days like Mon-Fri or Mon,Tue,Thu")
    for item in items:
        first, dash, last = item.partition("-")
        if not dash:
            days.add(_day(first))
            continue
        start, end = _day(first), _day(last)
        days.update((start + step) % 7 for step in range((end - start) % 7 + 1))
    return frozenset(days)


def parse_time_zone(value: str) -> ZoneInfo:
    """An IANA time zone (``Europe/Paris``, ``UTC``); ValueError if unknown."""
    name = value.strip()
    try:
        if not name:
            raise ValueError
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"{_shown(value)} is not a time zone this machine knows; use an IANA name like"
            " Europe/Paris (install the tzdata package if none is known)"
        ) from None


@dataclass(frozen=True)
class BusinessDuration:
    """A length of business time: whole business days plus minutes."""

    days: int = 0
    minutes: int = 0

    def __str__(self) -> str:
        hours, minutes = divmod(self.minutes, 60)
        parts = [f"{self.days}d"] if self.days else []
        parts += [f"{hours}h"] if hours else []
        parts += [f"{minutes}m"] if minutes else []
        return "".join(parts) or "0m"


def parse_duration(value: str) -> BusinessDuration | None:
    """``4h``, ``90m``, ``1h30m``, ``2d`` (business days), or ``off`` (None); ValueError if bad."""
    text = "".join(value.split()).lower()
    if text in ("off", "never", "none"):
        return None
    found = _DURATION.match(text)
    if not text or found is None or not any(found.groups()):
        hint = " (give a unit)" if text.isdigit() else ""
        raise ValueError(
            f"must be a duration like 4h, 90m, 1h30m or 1d, or off; not {_shown(value)}{hint}"
        )
    days, hours, minutes = (int(part or 0) for part in found.groups())
    duration = BusinessDuration(days=days, minutes=hours * 60 + minutes)
    if duration.days == 0 and duration.minutes == 0:
        raise ValueError("must be longer than 0; say off to turn it off")
    return duration


# ------------------------------------------------------------------------------ the calendar


@dataclass(frozen=True)
class BusinessCalendar:
    """When the business is open: ``opens``-``closes`` (minutes after local midnight) on ``days``
    (weekday numbers, Monday 0), in ``tz``."""

    opens: int = 9 * 60
    closes: int = 18 * 60
    days: frozenset[int] = field(default_factory=lambda: frozenset(range(5)))
    tz: dt.tzinfo = field(default_factory=lambda: ZoneInfo("Europe/Paris"))

    def __post_init__(self) -> None:
        if not 0 <= self.opens < self.closes <= _MINUTES_PER_DAY:
            raise ValueError("business hours must open before they close, within one day")
        if not self.days or not self.days <= frozenset(range(7)):
            raise ValueError("business days must name at least one weekday (0-6)")

    @property
    def day_length(self) -> dt.timedelta:
        """One business day as a duration counts it (the opening hours' nominal length)."""
        return dt.timedelta(minutes=self.closes - self.opens)

    def length(self, duration: BusinessDuration) -> dt.timedelta:
        return duration.days * self.day_length + dt.timedelta(minutes=duration.minutes)

    def hours_on(self, day: dt.date) -> tuple[dt.datetime, dt.datetime] | None:
        """The day's opening and closing as aware UTC moments; None when closed that day."""
        if day.weekday() not in self.days:
            return None
        opens, closes = self._moment(day, self.opens), self._moment(day, self.closes)
        # Hours inside a skipped hour (a spring-forward gap) can map closing before opening.
        return opens, max(opens, closes)

    def _moment(self, day: dt.date, minutes: int) -> dt.datetime:
        if minutes == _MINUTES_PER_DAY:
            day, minutes = day + dt.timedelta(days=1), 0
        local = dt.datetime.combine(day, dt.time(minutes // 60, minutes % 60), tzinfo=self.tz)
        return local.astimezone(dt.UTC)

    def local_date(self, moment: dt.datetime) -> dt.date:
        return _aware(moment).astimezone(self.tz).date()

    def is_open(self, moment: dt.datetime) -> bool:
        hours = self.hours_on(self.local_date(moment))
        return hours is not None and hours[0] <= _aware(moment) < hours[1]

    def elapsed(self, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
        """Business time between two moments (zero when ``end`` is not after ``start``)."""
        start, end = _aware(start), _aware(end)
        total = dt.timedelta(0)
        if end <= start:
            return total
        day, last = self.local_date(start), self.local_date(end)
        while day <= last:
            hours = self.hours_on(day)
            if hours is not None:
                overlap = min(end, hours[1]) - max(start, hours[0])
                if overlap > dt.timedelta(0):
                    total += overlap
            day += dt.timedelta(days=1)
        return total

    def reached(self, start: dt.datetime, duration: dt.timedelta) -> dt.datetime:
        """The first moment at which ``duration`` of business time has passed since ``start``."""
        start = _aware(start)
        left = duration
        if left <= dt.timedelta(0):
            return start
        day = self.local_date(start)
        while True:
            hours = self.hours_on(day)
            if hours is not None and hours[1] > start:
                begin = max(start, hours[0])
                if hours[1] - begin >= left:
                    return begin + left
                left -= hours[1] - begin
            day += dt.timedelta(days=1)

    def latest_start(self, end: dt.datetime, duration: dt.timedelta) -> dt.datetime:
        """The latest start from which ``duration`` of business time has passed by ``end``.

        Age only grows the earlier a request was made, so a request's business age at ``end``
        is at least ``duration`` exactly when it was made at or before this moment: one
        comparison per request in SQL, however old the request.
        """
        end = _aware(end)
        left = duration
        if left <= dt.timedelta(0):
            return end
        day = self.local_date(end)
        while True:
            hours = self.hours_on(day)
            if hours is not None and hours[0] < end:
                finish = min(end, hours[1])
                if finish - hours[0] >= left:
                    return finish - left
                left -= finish - hours[0]
            day -= dt.timedelta(days=1)

    def next_opening(self, moment: dt.datetime) -> dt.datetime:
        """The first opening at or after ``moment`` (the next business day's start of hours)."""
        moment = _aware(moment)
        day = self.local_date(moment)
        while True:
            hours = self.hours_on(day)
            if hours is not None and hours[0] >= moment:
                return hours[0]
            day += dt.timedelta(days=1)

    def open_day(self, moment: dt.datetime) -> dt.date | None:
        """The business date whose hours ``moment`` falls in; None while closed."""
        day = self.local_date(moment)
        hours = self.hours_on(day)
        if hours is not None and hours[0] <= _aware(moment) < hours[1]:
            return day
        return None


def _aware(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: business time needs an aware moment")
    return moment.astimezone(dt.UTC)


# ------------------------------------------------------------------------------ the rules


@dataclass(frozen=True)
class ReminderRules:
    """When a waiting request is reminded and escalated (None: never), in which calendar."""

    calendar: BusinessCalendar = field(default_factory=BusinessCalendar)
    remind_after: dt.timedelta | None = dt.timedelta(hours=4)
    escalate_after: dt.timedelta | None = dt.timedelta(hours=24)


def reminder_rules(
    *,
    business_hours: str = DEFAULTS["BUSINESS_HOURS"],
    business_days: str = DEFAULTS["BUSINESS_DAYS"],
    business_tz: str = DEFAULTS["BUSINESS_TZ"],
    remind_after: str = DEFAULTS["REMIND_AFTER"],
    escalate_after: str = DEFAULTS["ESCALATE_AFTER"],
) -> ReminderRules:
    """The rules from the settings' text; :class:`BadSetting` names the first bad variable."""
    opens, closes = _parsed("BUSINESS_HOURS", parse_hours, business_hours)
    days = _parsed("BUSINESS_DAYS", parse_days, business_days)
    tz = _parsed("BUSINESS_TZ", parse_time_zone, business_tz)
    remind = _parsed("REMIND_AFTER", parse_duration, remind_after)
    escalate = _parsed("ESCALATE_AFTER", parse_duration, escalate_after)
    calendar = BusinessCalendar(opens=opens, closes=closes, days=days, tz=tz)
    remind_length = calendar.length(remind) if remind is not None else None
    escalate_length = calendar.length(escalate) if escalate is not None else None
    for variable, length in (("REMIND_AFTER", remind_length), ("ESCALATE_AFTER", escalate_length)):
        if length is not None and length > MAX_DURATION:
            raise BadSetting(variable, "must be at most 366 days of business time")
    if (
        remind_length is not None
        and escalate_length is not None
        and escalate_length <= remind_length
    ):
        raise BadSetting(
            "ESCALATE_AFTER",
            f"must be longer than REMIND_AFTER ({remind}): a request is reminded first,"
            " then escalated",
        )
    return ReminderRules(
        calendar=calendar, remind_after=remind_length, escalate_after=escalate_length
    )


def _parsed(variable: str, parse: Callable[[str], _T], value: str) -> _T:
    try:
        return parse(value)
    except ValueError as exc:
        raise BadSetting(variable, str(exc)) from None


def rules_from_environ(environ: Mapping[str, str]) -> ReminderRules:
    """The rules from environment variables (blank or unset: the default)."""
    values = {
        name.lower(): (environ.get(name) or "").strip() or default
        for name, default in DEFAULTS.items()
    }
    return reminder_rules(**values)
