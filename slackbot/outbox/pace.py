"""The paced channel's slots: at most one call per pace to a channel, across every bot process.

Slack allows about one message per second per channel. The billing channel's next free slot lives
in the ``channel_pace`` table; a claim (``slackbot.outbox.queue``) takes it for its most urgent
billing row, a call that starts late moves it on (``move_on``), and a 429 holds it (``hold``).
Every rule reads the clock only once the row's lock is held, so time spent waiting for the lock
(another process's claim, SQLite's one write lock) never shortens the gap between two calls.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from models.tables import ChannelPace
from slackbot.clock import Clock, system_clock
from slackbot.db import Database

__all__ = ["SAME_SLOT", "ChannelPacer"]

# Two slot times this close are the same slot (a database may round to the microsecond).
SAME_SLOT = dt.timedelta(milliseconds=1)


class ChannelPacer:
    """At most one call per ``interval`` seconds to a paced channel, across every bot process.

    The next free slot of each channel lives in the ``channel_pace`` table and is taken under a
    row lock (``BEGIN IMMEDIATE`` on SQLite), so two processes never take the same slot.
    """

    def __init__(self, db: Database, interval: float, *, clock: Clock = system_clock) -> None:
        self.db = db
        self.interval = dt.timedelta(seconds=interval)
        self.clock = clock

    def take(self, channel: str) -> float:
        """Take the channel's next slot if it is free now (returns 0), else the seconds to wait."""
        if not self.interval:
            return 0.0
        with self.db.transaction() as session:
            pace = self.locked(session, channel, self.clock())
            now = self.clock()  # read once the lock is held: waiting for it takes time too
            wait = (pace.next_at - now).total_seconds()
            if wait > 0:
                return wait
            pace.next_at = now + self.interval
            return 0.0

    def wait(self, channel: str) -> float:
        """Seconds until the channel's next slot is free (0 when it is free now); takes nothing."""
        with self.db.transaction(read_only=True) as session:
            free_at = self.free_at(session, channel)
        return 0.0 if free_at is None else max(0.0, (free_at - self.clock()).total_seconds())

    def free_at(self, session: Session, channel: str) -> dt.datetime | None:
        """When the channel's next slot is free (None: now, or pacing is off); takes nothing."""
        if not self.interval:
            return None
        return session.scalar(select(ChannelPace.next_at).where(ChannelPace.channel == channel))

    def move_on(self, channel: str, taken_until: dt.datetime) -> bool:
        """A slot's call starts late: the channel's next slot moves to a pace from now.

        Only while the channel's next slot is still the one that slot's claim wrote
        (``taken_until``): when a later claim (another process) or a 429 has moved it since,
        returns False and the late call must take a fresh slot instead.
        """
        if not self.interval:
            return True
        with self.db.transaction() as session:
            pace = self.locked(session, channel, self.clock())
            now = self.clock()  # once the lock is held
            if abs(pace.next_at - taken_until) > SAME_SLOT:
                return False
            pace.next_at = max(pace.next_at, now + self.interval)
            return True

    def hold(self, channel: str, seconds: float) -> None:
        """The channel said wait (Slack's 429): nothing more to it until ``seconds`` have passed."""
        until = self.clock() + dt.timedelta(seconds=seconds)
        with self.db.transaction() as session:
            pace = self.locked(session, channel, until)
            pace.next_at = max(pace.next_at, until)

    def locked(self, session: Session, channel: str, default: dt.datetime) -> ChannelPace:
        """The channel's pace row, created at ``default`` if new, locked for this transaction.

        The row exists after a channel's first call, so the lock is one statement; only a new
        channel's first call also inserts (racing processes: one inserts, the others find it).
        """
        row = select(ChannelPace).where(ChannelPace.channel == channel).with_for_update()
        pace = session.scalars(row).one_or_none()
        if pace is not None:
            return pace
        insert = sqlite_insert if self.db.dialect == "sqlite" else postgresql_insert
        session.execute(
            insert(ChannelPace)
            .values(channel=channel, next_at=default)
            .on_conflict_do_nothing(index_elements=["channel"])
        )
        return session.scalars(row).one()
