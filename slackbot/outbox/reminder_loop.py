"""The reminders' clock inside ``serve``: looks for due reminders and digests, and wakes the outbox.

Each look is :func:`slackbot.ledger.reminders.run_reminders` (one transaction; what it decides is
owed once however many processes run this loop). Between looks the loop sleeps until the next
moment something falls due (a request's reminder, the next opening's digest), at most
``interval`` seconds, so a request made meanwhile, a decision, or another process's look is
seen within that time. Nothing here knows Slack: ``wake`` is the sender's, passed in.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from slackbot.business_time import ReminderRules
from slackbot.clock import Clock, system_clock
from slackbot.db import Database
from slackbot.errors import Unavailable
from slackbot.ledger.reminders import BATCH, RemindersRun, next_due, run_reminders

__all__ = ["DEFAULT_INTERVAL_SECONDS", "ReminderLoop"]

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_SECONDS = 30.0
# Shortest sleep between looks: something due "now" right after a look (another process holds
# it for a moment) is looked at again soon, without spinning.
MIN_SLEEP_SECONDS = 1.0


def _nothing() -> None:
    return None


class ReminderLoop:
    """Runs reminders every ``interval`` seconds (sooner when one falls due) in a thread."""

    def __init__(
        self,
        db: Database,
        rules: ReminderRules,
        *,
        clock: Clock = system_clock,
        wake: Callable[[], None] = _nothing,
        interval: float = DEFAULT_INTERVAL_SECONDS,
        batch: int = BATCH,
    ) -> None:
        self.db = db
        self.rules = rules
        self.clock = clock
        self.wake = wake
        self.interval = max(0.01, interval)
        self.batch = batch
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start looking (a daemon thread); a second call does nothing."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="reminders", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the look in hand (a look is one short transaction); promptly when asleep."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run_once(self) -> RemindersRun:
        """One look; wakes the outbox when it owed anything."""
        run = run_reminders(self.db, self.clock, self.rules, batch=self.batch)
        if run.owed:
            self.wake()
        return run

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                run = self.run_once()
            except Unavailable as exc:
                log.warning("reminders: database unavailable, will retry: %s", _one_line(exc))
                self._stop.wait(self.interval)
                continue
            except Exception as exc:
                log.error("reminders: unexpected error, will retry: %s", _one_line(exc))
                log.debug("reminders: unexpected error", exc_info=True)
                self._stop.wait(self.interval)
                continue
            if run.more:
                continue  # a backlog: the next batch now
            self._stop.wait(self.sleep_seconds())

    def sleep_seconds(self) -> float:
        """Seconds until the next look: until the next due moment, within [1 s, interval]."""
        try:
            now = self.clock()
            due = next_due(self.db, self.rules, now)
        except Exception as exc:
            log.warning("reminders: cannot tell when the next is due: %s", _one_line(exc))
            return self.interval
        if due is None:
            return self.interval
        wait = (due - now).total_seconds()
        return min(self.interval, max(min(MIN_SLEEP_SECONDS, self.interval), wait))


def _one_line(exc: object, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
