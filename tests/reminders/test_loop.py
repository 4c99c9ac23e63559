"""The reminders' loop inside serve: looks on its own, wakes the outbox, survives errors, stops."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable

import pytest

from models.enums import OutboxKind
from slackbot.business_time import ReminderRules
from slackbot.clock import FrozenClock
from slackbot.db import Database
from slackbot.outbox.reminder_loop import ReminderLoop
from tests.reminders.support import MONDAY_10, paris, reminder_rows, request_at


def until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_the_loop_reminds_when_the_clock_reaches_the_due_time_and_wakes_the_sender(
    books: Database,
) -> None:
    request = request_at(books, MONDAY_10)
    clock = FrozenClock(paris(2026, 11, 23, 13, 59))
    woken = threading.Event()
    loop = ReminderLoop(books, ReminderRules(), clock=clock, wake=woken.set, interval=0.05)
    loop.start()
    try:
        assert until(woken.is_set)  # the day's digest, at once: the business is open
        woken.clear()
        time.sleep(0.3)
        assert reminder_rows(books) == []
        clock.advance(dt.timedelta(minutes=1))
        assert until(lambda: len(reminder_rows(books)) == 1)
        assert woken.wait(5)
    finally:
        loop.stop()
    assert reminder_rows(books)[0][:2] == (OutboxKind.REQUEST_REMINDED, request)


def test_stop_is_prompt_even_with_the_default_interval(books: Database) -> None:
    loop = ReminderLoop(books, ReminderRules(), clock=FrozenClock(paris(2026, 11, 28, 12)))
    loop.start()
    time.sleep(0.2)
    started = time.monotonic()
    loop.stop()
    assert time.monotonic() - started < 1.0
    assert not loop.running


def test_the_loop_sleeps_until_the_next_due_moment_within_its_interval(books: Database) -> None:
    request_at(books, MONDAY_10)
    clock = FrozenClock(paris(2026, 11, 23, 13, 59, 50))
    loop = ReminderLoop(books, ReminderRules(), clock=clock, interval=30)
    loop.run_once()
    assert loop.sleep_seconds() == pytest.approx(10.0)
    clock.advance(dt.timedelta(seconds=9.5))
    assert loop.sleep_seconds() == 1.0  # never spins
    clock.moment = paris(2026, 11, 23, 10)
    assert loop.sleep_seconds() == 30


def test_an_error_in_a_look_is_logged_in_one_line_and_the_loop_goes_on(
    books: Database, caplog: pytest.LogCaptureFixture
) -> None:
    request_at(books, MONDAY_10)
    failures = iter([RuntimeError("boom\nsecond line")])
    frozen = FrozenClock(paris(2026, 11, 23, 15))

    def clock() -> dt.datetime:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return frozen()

    loop = ReminderLoop(books, ReminderRules(), clock=clock, interval=0.05)
    with caplog.at_level(logging.ERROR, logger="slackbot.outbox.reminder_loop"):
        loop.start()
        try:
            assert until(lambda: len(reminder_rows(books)) == 1)
        finally:
            loop.stop()
    (line,) = [r.getMessage() for r in caplog.records if "unexpected error" in r.getMessage()]
    assert "boom second line" in line and "\n" not in line
