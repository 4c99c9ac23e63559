"""The one clock: every place that reads the time takes a ``Clock``, so tests can freeze it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

# Returns the current moment, aware and in UTC. Injected into the ledger, the outbox and imports.
Clock = Callable[[], dt.datetime]


def system_clock() -> dt.datetime:
    """The wall clock, in UTC: the production ``Clock``."""
    return dt.datetime.now(dt.UTC)


class FrozenClock:
    """A ``Clock`` that stands still until told to move (tests, and reminders' schedules)."""

    def __init__(self, moment: dt.datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError(f"naive datetime {moment!r}: a clock tells aware UTC time")
        self.moment = moment.astimezone(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.moment

    def advance(self, delta: dt.timedelta) -> dt.datetime:
        self.moment += delta
        return self.moment
